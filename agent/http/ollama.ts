// Ollama-compatible routes: /api/chat and /api/generate (NDJSON or JSON), /api/tags.
import type { Context, Hono } from 'hono';
import { stream } from 'hono/streaming';
import { INFERENCE_PATHS, MODEL_LIST_PATHS, ollamaErrorBody } from '../../protocol/dialects.ts';
import { ollamaChatBody, ollamaGenerateBody } from '../../protocol/inference.ts';
import type { DoneChunk, GenerateRequest, ToolCall } from '../engines/engine.ts';
import { argumentsObject, ToolCallAssembler } from '../engines/tool-calls.ts';
import { toHttpError } from './errors.ts';
import {
  type Admitted,
  admitRequest,
  confirmed,
  endJob,
  InferenceJob,
  type JobDeps,
} from './job.ts';
import { ollamaLogprobs } from './logprobs.ts';
import { fromOllamaChat, fromOllamaGenerate, parseBody } from './schemas.ts';
import { writeWithin } from './stall.ts';

type Kind = 'chat' | 'generate';

const MS_TO_NS = 1_000_000;

export function registerOllamaRoutes(app: Hono, deps: JobDeps): void {
  app.post(INFERENCE_PATHS.ollamaChat, async (c) => {
    const admitted = await admitRequest(c, deps, (raw) => parseBody(ollamaChatBody, raw));
    const { body } = admitted;
    if (body.messages.length === 0) return loadOnly(c, deps, admitted, 'chat');
    return respond(c, deps, admitted, fromOllamaChat(body), 'chat', body.stream !== false);
  });

  app.post(INFERENCE_PATHS.ollamaGenerate, async (c) => {
    const admitted = await admitRequest(c, deps, (raw) => parseBody(ollamaGenerateBody, raw));
    const { body } = admitted;
    if (body.prompt === '') return loadOnly(c, deps, admitted, 'generate');
    const request = fromOllamaGenerate(body);
    return respond(c, deps, admitted, request, 'generate', body.stream !== false);
  });

  app.get(MODEL_LIST_PATHS.ollama, async (c) => {
    const models = await deps.engine.listModels();
    const modifiedAt = new Date(deps.now()).toISOString();
    return c.json({
      models: models.map((m) => ({
        name: m.name,
        model: m.name,
        modified_at: modifiedAt,
        size: m.memoryBytes ?? 0,
        digest: '',
        details: { format: 'gguf', quantization_level: m.quantization ?? '' },
      })),
    });
  });
}

function message(kind: Kind, text: string, toolCalls: ToolCall[] = []) {
  if (kind === 'generate') return { response: text };
  const calls = toolCalls.length
    ? {
        tool_calls: toolCalls.map((call, index) => ({
          id: call.id,
          function: { index, name: call.name, arguments: argumentsObject(call) },
        })),
      }
    : {};
  return { message: { role: 'assistant', content: text, ...calls } };
}

async function respond(
  c: Context,
  deps: JobDeps,
  admitted: Admitted,
  request: GenerateRequest,
  kind: Kind,
  streaming: boolean,
): Promise<Response> {
  const job = new InferenceJob(deps, admitted, request, c.req.raw.signal);
  await job.start();
  const head = () => ({ model: request.model, created_at: new Date(deps.now()).toISOString() });
  const final = (done: DoneChunk) => {
    const totalMs = Math.max(0, deps.now() - job.startedAt);
    const promptMs = Math.min(job.timeToFirstTokenMs ?? totalMs, totalMs);
    return {
      done: true,
      // Ollama ends an answer that called tools with `stop`.
      done_reason: done.finishReason === 'tool_calls' ? 'stop' : done.finishReason,
      total_duration: Math.round(totalMs * MS_TO_NS),
      load_duration: 0,
      prompt_eval_count: done.promptTokens,
      prompt_eval_duration: Math.round(promptMs * MS_TO_NS),
      eval_count: done.completionTokens,
      eval_duration: Math.round((totalMs - promptMs) * MS_TO_NS),
    };
  };
  if (!streaming) {
    // The Ollama dialect has no `n`: one answer.
    const { answers, done } = await job.collect();
    const { text = '', toolCalls = [], logprobs = [] } = answers[0] ?? {};
    const scored = request.logprobs === undefined ? {} : { logprobs: ollamaLogprobs(logprobs) };
    return c.json({ ...head(), ...message(kind, text, toolCalls), ...scored, ...final(done) });
  }
  c.header('Content-Type', 'application/x-ndjson');
  return stream(c, async (out) => {
    out.onAbort(() => job.cancel());
    const stall = () => {
      job.cancel();
      out.abort();
    };
    const send = (data: unknown) =>
      writeWithin(out.write(`${JSON.stringify(data)}\n`), deps.stallTimeoutMs, stall);
    // Ollama streams whole calls, not fragments: they go out together before the final line.
    const calls = new ToolCallAssembler();
    try {
      for await (const chunk of job.chunks()) {
        if (chunk.type === 'token') {
          const scored = chunk.logprobs ? { logprobs: ollamaLogprobs(chunk.logprobs) } : {};
          await send({ ...head(), ...message(kind, chunk.text), ...scored, done: false });
        } else if (chunk.type === 'tool_call') {
          calls.add(chunk);
        } else {
          if (calls.size)
            await send({ ...head(), ...message(kind, '', calls.calls()), done: false });
          await send({ ...head(), ...message(kind, ''), ...final(chunk) });
        }
      }
    } catch (err) {
      if (job.cancelled) return;
      await send(ollamaErrorBody(toHttpError(err)));
    }
  });
}

/** Ollama answers an empty chat/prompt by loading the model: `done_reason: "load"`. */
async function loadOnly(c: Context, deps: JobDeps, admitted: Admitted, kind: Kind) {
  await confirmed(deps, admitted);
  const { claims, slot } = admitted;
  deps.jobs.release(slot);
  endJob(
    deps,
    claims.jti,
    {
      outcome: 'success',
      model: claims.model,
      promptTokens: 0,
      completionTokens: 0,
      durationMs: Math.max(0, deps.now() - slot.startedAt),
    },
    { status: 200, reason: 'load' },
  );
  return c.json({
    model: claims.model,
    created_at: new Date(deps.now()).toISOString(),
    ...message(kind, ''),
    done_reason: 'load',
    done: true,
  });
}
