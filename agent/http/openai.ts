// OpenAI-compatible routes: /v1/chat/completions and /v1/completions (SSE or JSON), /v1/models.
import type { Hono } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { INFERENCE_PATHS, MODEL_LIST_PATHS, openAIErrorBody } from '../../protocol/dialects.ts';
import {
  openAIChatBody,
  openAICompletionBody,
  requestedChoices,
} from '../../protocol/inference.ts';
import type { DoneChunk, LogprobEntry, TokenChunk, ToolCallChunk } from '../engines/engine.ts';
import { toHttpError } from './errors.ts';
import { type Answer, admitRequest, InferenceJob, type JobDeps } from './job.ts';
import { chatLogprobs, completionLogprobs } from './logprobs.ts';
import { fromOpenAIChat, fromOpenAICompletion, parseBody } from './schemas.ts';
import { writeWithin } from './stall.ts';

type Kind = 'chat' | 'completion';

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** As OpenAI reports prompt caching: prompt tokens served from the cache, not evaluated. */
  prompt_tokens_details?: { cached_tokens: number };
}

function usageOf(done: DoneChunk): Usage {
  const { promptTokens, completionTokens, cachedPromptTokens } = done;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    ...(cachedPromptTokens !== undefined
      ? { prompt_tokens_details: { cached_tokens: cachedPromptTokens } }
      : {}),
  };
}

export function registerOpenAIRoutes(app: Hono, deps: JobDeps): void {
  app.post(INFERENCE_PATHS.openAIChat, async (c) => {
    const admitted = await admitRequest(
      c,
      deps,
      (raw) => parseBody(openAIChatBody, raw),
      requestedChoices,
    );
    const { claims, body } = admitted;
    const job = new InferenceJob(deps, admitted, fromOpenAIChat(body), c.req.raw.signal);
    await job.start();
    const id = `chatcmpl-${claims.jti}`;
    if (body.stream) {
      const includeUsage = body.stream_options?.include_usage === true;
      return streamSSE(c, (sse) =>
        streamOpenAI(sse, job, 'chat', id, includeUsage, deps.stallTimeoutMs),
      );
    }
    const { answers, done } = await job.collect();
    return c.json({
      id,
      object: 'chat.completion',
      created: job.createdSec,
      model: job.request.model,
      choices: answers.map((answer, index) => chatChoice(answer, index, job.request.logprobs)),
      usage: usageOf(done),
    });
  });

  app.post(INFERENCE_PATHS.openAICompletion, async (c) => {
    const admitted = await admitRequest(
      c,
      deps,
      (raw) => parseBody(openAICompletionBody, raw),
      requestedChoices,
    );
    const { claims, body } = admitted;
    const job = new InferenceJob(deps, admitted, fromOpenAICompletion(body), c.req.raw.signal);
    await job.start();
    const id = `cmpl-${claims.jti}`;
    if (body.stream) {
      const includeUsage = body.stream_options?.include_usage === true;
      return streamSSE(c, (sse) =>
        streamOpenAI(sse, job, 'completion', id, includeUsage, deps.stallTimeoutMs),
      );
    }
    const { answers, done } = await job.collect();
    const asked = job.request.logprobs !== undefined;
    return c.json({
      id,
      object: 'text_completion',
      created: job.createdSec,
      model: job.request.model,
      choices: answers.map(({ text, logprobs, done: end }, index) => ({
        index,
        text,
        logprobs: asked ? completionLogprobs(logprobs) : null,
        finish_reason: end.finishReason,
      })),
      usage: usageOf(done),
    });
  });

  app.get(MODEL_LIST_PATHS.openAI, async (c) => {
    const models = await deps.engine.listModels();
    const created = Math.floor(deps.now() / 1000);
    return c.json({
      object: 'list',
      data: models.map((m) => ({
        id: m.name,
        object: 'model',
        created,
        owned_by: 'titancompute',
        // As on the control plane's list: the GGUF type(s) it is served in.
        quantizations: m.quantization ? [m.quantization] : [],
      })),
    });
  });
}

/** One choice of a non-streamed chat.completion. */
function chatChoice(answer: Answer, index: number, logprobs: number | undefined): object {
  const { text, toolCalls } = answer;
  const calls = toolCalls.length
    ? {
        tool_calls: toolCalls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        })),
      }
    : {};
  return {
    index,
    message: {
      role: 'assistant',
      content: text === '' && toolCalls.length ? null : text,
      refusal: null,
      ...calls,
    },
    logprobs: logprobs === undefined ? null : chatLogprobs(answer.logprobs),
    finish_reason: answer.done.finishReason,
  };
}

/** The stream deltas of one tool_call chunk. */
export function toolCallDeltas(chunk: ToolCallChunk): object[] {
  const deltas: object[] = [];
  if (chunk.id !== undefined) {
    deltas.push({
      index: chunk.index,
      id: chunk.id,
      type: 'function',
      function: { name: chunk.name ?? '', arguments: '' },
    });
  }
  if (chunk.arguments) {
    deltas.push({ index: chunk.index, function: { arguments: chunk.arguments } });
  }
  return deltas;
}

async function streamOpenAI(
  sse: SSEStreamingApi,
  job: InferenceJob,
  kind: Kind,
  id: string,
  includeUsage: boolean,
  stallTimeoutMs: number,
): Promise<void> {
  sse.onAbort(() => job.cancel());
  const stall = () => {
    job.cancel();
    sse.abort();
  };
  const object = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  const base = { id, object, created: job.createdSec, model: job.request.model };
  const usage = includeUsage ? { usage: null } : {};
  const asked = job.request.logprobs !== undefined;
  /** Where the next token starts in each choice's completion (its `text_offset`). */
  const offsets = new Array<number>(job.choices).fill(0);
  const scored = (index: number, entries: LogprobEntry[] = []) => {
    if (!asked) return null;
    if (kind === 'chat') return chatLogprobs(entries);
    const offset = offsets[index] ?? 0;
    offsets[index] = offset + entries.reduce((n, e) => n + e.token.length, 0);
    return completionLogprobs(entries, offset);
  };
  // Chunks of several choices (`n`) each say which one they belong to in `index`.
  const choice = (index: number, chunk: TokenChunk | undefined, finish: string | null) =>
    kind === 'chat'
      ? {
          index,
          delta: chunk === undefined ? {} : { content: chunk.text },
          logprobs: chunk === undefined ? null : scored(index, chunk.logprobs),
          finish_reason: finish,
        }
      : {
          index,
          text: chunk?.text ?? '',
          logprobs: chunk === undefined ? null : scored(index, chunk.logprobs),
          finish_reason: finish,
        };
  const send = (data: unknown) =>
    writeWithin(sse.writeSSE({ data: JSON.stringify(data) }), stallTimeoutMs, stall);
  try {
    for (let index = 0; kind === 'chat' && index < job.choices; index++) {
      const role = { role: 'assistant', content: '' };
      const opening = { index, delta: role, logprobs: null, finish_reason: null };
      await send({ ...base, choices: [opening], ...usage });
    }
    for await (const chunk of job.chunks()) {
      const index = chunk.choice;
      if (chunk.type === 'token') {
        await send({ ...base, choices: [choice(index, chunk, null)], ...usage });
        continue;
      }
      if (chunk.type === 'tool_call') {
        // As OpenAI streams a call: its id, type and name first, then fragments of its arguments.
        for (const delta of toolCallDeltas(chunk)) {
          const call = { index, delta: { tool_calls: [delta] }, logprobs: null };
          await send({ ...base, choices: [{ ...call, finish_reason: null }], ...usage });
        }
        continue;
      }
      // Each choice ends with its own finish_reason; the last one ends the stream.
      await send({ ...base, choices: [choice(index, undefined, chunk.finishReason)], ...usage });
      const total = job.total;
      if (!total) continue;
      if (includeUsage) await send({ ...base, choices: [], usage: usageOf(total) });
      await writeWithin(sse.writeSSE({ data: '[DONE]' }), stallTimeoutMs, stall);
    }
  } catch (err) {
    if (job.cancelled) return;
    // Headers are gone: the failure becomes an explicit error event, and no [DONE] follows.
    await send(openAIErrorBody(toHttpError(err)));
  }
}
