// OpenAI-compatible upstream engine: fronts vLLM, SGLang, llama-server, TGI or Ollama's /v1.

import type { AgentModel, EngineLoad } from '../../protocol/agent-api.ts';
import { sseData } from '../../protocol/framing.ts';
import {
  type ChatMessage,
  type EmbedRequest,
  type EmbedResult,
  EngineError,
  type FinishReason,
  type GenerateChunk,
  type GenerateOptions,
  type GenerateRequest,
  type InferenceEngine,
  type ResponseFormat,
  requireServed,
  toEngineError,
} from './engine.ts';
import { fromChoiceLogprobs } from './logprobs.ts';
import { engineLoadFromMetrics } from './prometheus.ts';
import { newToolCallId } from './tool-calls.ts';

export interface OpenAIUpstreamOptions {
  /** e.g. http://127.0.0.1:8000 or http://127.0.0.1:11434/v1 (a missing `/v1` is added). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer` to the upstream (vLLM --api-key, llama-server --api-key). */
  apiKey?: string;
  fetch?: typeof fetch;
  /** When set, only these models are advertised and served. */
  models?: string[];
  /** Timeout for `/v1/models` and `/metrics`, ms (default 2000). */
  requestTimeoutMs?: number;
}

interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

interface StreamChunk {
  error?: { message?: string } | string;
  choices?: {
    delta?: { content?: string | null; tool_calls?: ToolCallDelta[] | null };
    text?: string;
    finish_reason?: string | null;
    logprobs?: unknown;
  }[];
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    /** llama-server and vLLM report their prompt-cache hits as OpenAI does. */
    prompt_tokens_details?: { cached_tokens?: number } | null;
  } | null;
}

export class OpenAIUpstreamEngine implements InferenceEngine {
  readonly kind = 'openai';
  private readonly fetchImpl: typeof fetch;
  private readonly api: string;
  private readonly origin: string;
  /** False once `/metrics` answered 404, or 501 (llama-server without --metrics): stop asking. */
  private metricsAvailable = true;

  constructor(private readonly options: OpenAIUpstreamOptions) {
    this.fetchImpl = options.fetch ?? fetch;
    const base = options.baseUrl.replace(/\/+$/, '');
    this.api = /\/v1$/.test(base) ? base : `${base}/v1`;
    this.origin = new URL(this.api).origin;
  }

  private headers(json = false): Record<string, string> {
    return {
      ...(json ? { 'content-type': 'application/json' } : {}),
      ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
    };
  }

  async listModels(): Promise<AgentModel[]> {
    const res = await this.fetchImpl(`${this.api}/models`, {
      headers: this.headers(),
      signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 2000),
    });
    if (!res.ok)
      throw new EngineError('engine_unavailable', `upstream /models: HTTP ${res.status}`);
    const body = (await res.json()) as { data?: { id?: unknown }[] };
    const allowed = this.options.models ? new Set(this.options.models) : undefined;
    return (body.data ?? [])
      .map((m) => (typeof m.id === 'string' ? m.id : ''))
      .filter((id) => id && (!allowed || allowed.has(id)))
      .map((name) => ({ name, loaded: true }));
  }

  /** Load from the upstream's Prometheus `/metrics` (vLLM, llama-server --metrics, SGLang). */
  async load(): Promise<EngineLoad | undefined> {
    if (!this.metricsAvailable) return undefined;
    const res = await this.fetchImpl(`${this.origin}/metrics`, {
      headers: this.headers(),
      signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 2000),
    });
    if (res.status === 404 || res.status === 501) this.metricsAvailable = false;
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    return engineLoadFromMetrics(await res.text());
  }

  generate(req: GenerateRequest, opts: GenerateOptions): AsyncIterable<GenerateChunk> {
    return this.run(req, opts.signal);
  }

  private async *run(req: GenerateRequest, outer: AbortSignal): AsyncGenerator<GenerateChunk> {
    requireServed(this.options.models, req.model);
    // Aborted by the caller, or by the consumer leaving early (the finally below).
    const local = new AbortController();
    const signal = AbortSignal.any([outer, local.signal]);
    const path = req.messages ? '/chat/completions' : '/completions';
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.api}${path}`, {
        method: 'POST',
        headers: this.headers(true),
        body: JSON.stringify(toUpstreamBody(req)),
        signal,
      });
    } catch (err) {
      if (signal.aborted) throw new EngineError('aborted', 'generation aborted', { cause: err });
      throw new EngineError('engine_unavailable', `upstream unreachable: ${String(err)}`, {
        cause: err,
      });
    }
    // Set once the upstream said [DONE]: its response is complete and needs no abort.
    let complete = false;
    try {
      if (!res.ok || !res.body) throw await upstreamError(res);
      let completionTokens = 0;
      let promptTokens = 0;
      let cached: number | undefined;
      let finish: FinishReason | undefined;
      const echo = new PrefillEcho(prefillOf(req));
      const calls = new Set<number>();
      let scoredTokens = 0;
      for await (const data of sseData(res.body)) {
        if (data === '[DONE]') {
          if (!finish) break;
          // Asked for and not sent (an upstream that ignores the field): an error, never silence.
          if (req.logprobs !== undefined && completionTokens > 0 && scoredTokens === 0) {
            throw new EngineError('engine_failure', 'logprobs: the upstream sent none');
          }
          const held = echo.flush();
          if (held) yield { type: 'token', text: held };
          complete = true;
          yield {
            type: 'done',
            finishReason: finish,
            promptTokens,
            completionTokens,
            ...(cached !== undefined ? { cachedPromptTokens: cached } : {}),
          };
          return;
        }
        const chunk = JSON.parse(data) as StreamChunk;
        if (chunk.error) {
          const message = typeof chunk.error === 'string' ? chunk.error : chunk.error.message;
          throw new EngineError('engine_failure', `upstream: ${message ?? 'error'}`);
        }
        const choice = chunk.choices?.[0];
        const raw = choice?.delta?.content ?? choice?.text ?? '';
        if (raw) completionTokens++;
        const text = echo.strip(raw);
        const scored =
          req.logprobs !== undefined
            ? fromChoiceLogprobs(choice?.logprobs).map((e) => ({
                ...e,
                top: e.top.slice(0, req.logprobs),
              }))
            : [];
        scoredTokens += scored.length;
        if (text || scored.length) {
          yield scored.length ? { type: 'token', text, logprobs: scored } : { type: 'token', text };
        }
        // Relayed as they come; only the first piece of a call carries its id and name.
        for (const delta of choice?.delta?.tool_calls ?? []) {
          const index = delta.index ?? 0;
          const first = !calls.has(index);
          calls.add(index);
          yield {
            type: 'tool_call',
            index,
            ...(first ? { id: delta.id || newToolCallId(), name: delta.function?.name ?? '' } : {}),
            arguments: delta.function?.arguments ?? '',
          };
        }
        if (choice?.finish_reason) finish = finishReasonOf(choice.finish_reason);
        if (chunk.usage) {
          promptTokens = chunk.usage.prompt_tokens ?? promptTokens;
          completionTokens = chunk.usage.completion_tokens ?? completionTokens;
          cached = chunk.usage.prompt_tokens_details?.cached_tokens ?? cached;
        }
      }
      if (signal.aborted) throw new EngineError('aborted', 'generation aborted');
      throw new EngineError('stream_incomplete', 'upstream stream ended without [DONE]');
    } catch (err) {
      throw toEngineError(err, signal);
    } finally {
      // Only an unfinished request is aborted: aborting a complete one costs a DOMException and
      // undici's abort path on every job for nothing (issue 17's relay CPU).
      if (!complete) local.abort();
    }
  }

  /** The upstream's `/v1/embeddings`, always as floats (the agent encodes base64 itself). */
  async embed(req: EmbedRequest, opts: GenerateOptions): Promise<EmbedResult> {
    requireServed(this.options.models, req.model);
    const body = {
      model: req.model,
      input: req.input,
      encoding_format: 'float',
      ...(req.dimensions !== undefined ? { dimensions: req.dimensions } : {}),
    };
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.api}/embeddings`, {
        method: 'POST',
        headers: this.headers(true),
        body: JSON.stringify(body),
        signal: opts.signal,
      });
    } catch (err) {
      if (opts.signal.aborted)
        throw new EngineError('aborted', 'embedding aborted', { cause: err });
      throw new EngineError('engine_unavailable', `upstream unreachable: ${String(err)}`, {
        cause: err,
      });
    }
    if (!res.ok) throw await upstreamError(res);
    const parsed = (await res.json().catch(() => ({}))) as {
      data?: { index?: number; embedding?: unknown }[];
      usage?: { prompt_tokens?: number };
    };
    const data = [...(parsed.data ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    const embeddings = data.map((d) => d.embedding);
    const valid = (e: unknown): e is number[] =>
      Array.isArray(e) && e.every((x) => typeof x === 'number');
    if (embeddings.length !== req.input.length || !embeddings.every(valid)) {
      throw new EngineError(
        'engine_failure',
        `upstream returned ${embeddings.length} float embeddings for ${req.input.length} inputs`,
      );
    }
    return { embeddings, promptTokens: parsed.usage?.prompt_tokens ?? 0 };
  }

  async close(): Promise<void> {}
}

function finishReasonOf(reason: string): FinishReason {
  if (reason === 'length') return 'length';
  return reason === 'tool_calls' || reason === 'function_call' ? 'tool_calls' : 'stop';
}

/** The text of a trailing assistant message: an answer the upstream is asked to continue. */
function prefillOf(req: GenerateRequest): string {
  const last = req.messages?.at(-1);
  return last?.role === 'assistant' && !last.toolCalls?.length ? last.content : '';
}

/** A message in OpenAI's shape: calls as `tool_calls`, results with their `tool_call_id`. */
function toOpenAIMessage(message: ChatMessage): Record<string, unknown> {
  if (message.role === 'tool') {
    return { role: 'tool', tool_call_id: message.toolCallId ?? '', content: message.content };
  }
  if (!message.toolCalls?.length) return { role: message.role, content: message.content };
  return {
    role: message.role,
    content: message.content || null,
    tool_calls: message.toolCalls.map((call) => ({
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    })),
  };
}

/** OpenAI's `tools`, `tool_choice` and `parallel_tool_calls`, passed through. */
function toolFields(req: GenerateRequest): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (req.tools?.length) {
    fields.tools = req.tools.map((tool) => ({
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description ? { description: tool.description } : {}),
        ...(tool.parameters ? { parameters: tool.parameters } : {}),
      },
    }));
  }
  const choice = req.toolChoice;
  if (choice !== undefined) {
    fields.tool_choice =
      typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
  }
  if (req.parallelToolCalls !== undefined) fields.parallel_tool_calls = req.parallelToolCalls;
  return fields;
}

/**
 * Some servers (llama-server) stream a continued assistant message from its start, prefill
 * included; others (vLLM with `continue_final_message`, Ollama) only the new text. Text is held
 * back until it is known whether it begins with the prefill, which is then dropped, so a resumed
 * stream never repeats what the client already has.
 */
export class PrefillEcho {
  private held = '';
  private done: boolean;

  constructor(private readonly prefill: string) {
    this.done = prefill === '';
  }

  strip(text: string): string {
    if (this.done) return text;
    this.held += text;
    if (this.held.length < this.prefill.length && this.prefill.startsWith(this.held)) return '';
    this.done = true;
    const out = this.held.startsWith(this.prefill)
      ? this.held.slice(this.prefill.length)
      : this.held;
    this.held = '';
    return out;
  }

  /** What is still held at the end of the stream (a short answer that matched so far). */
  flush(): string {
    this.done = true;
    const out = this.held;
    this.held = '';
    return out;
  }
}

/** The OpenAI request the upstream gets; non-OpenAI knobs use vLLM/llama-server names. */
export function toUpstreamBody(req: GenerateRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: req.model,
    stream: true,
    stream_options: { include_usage: true },
  };
  if (req.messages) body.messages = req.messages.map(toOpenAIMessage);
  else body.prompt = req.prompt;
  Object.assign(body, toolFields(req));
  // vLLM and SGLang start a new assistant turn unless told to continue the last one; llama-server
  // and Ollama continue it anyway and ignore these fields.
  if (prefillOf(req)) {
    body.continue_final_message = true;
    body.add_generation_prompt = false;
  }
  const fields: [string, unknown][] = [
    ['max_tokens', req.maxTokens],
    ['temperature', req.temperature],
    ['top_p', req.topP],
    ['top_k', req.topK],
    ['min_p', req.minP],
    ['repetition_penalty', req.repeatPenalty],
    ['frequency_penalty', req.frequencyPenalty],
    ['presence_penalty', req.presencePenalty],
    ['seed', req.seed],
    ['stop', req.stop?.length ? req.stop : undefined],
  ];
  for (const [name, value] of fields) if (value !== undefined) body[name] = value;
  // OpenAI's names: chat asks `logprobs: true` with `top_logprobs`, completions `logprobs: n`. At
  // least one alternative is asked for: llama-server sends no logprobs at all for 0 (the extra
  // one is dropped again when the answer is read).
  if (req.logprobs !== undefined && req.messages) {
    body.logprobs = true;
    body.top_logprobs = Math.max(1, req.logprobs);
  } else if (req.logprobs !== undefined) body.logprobs = Math.max(1, req.logprobs);
  if (req.format) body.response_format = toResponseFormat(req.format);
  return body;
}

/** OpenAI's `response_format` for a structured-output request. */
export function toResponseFormat(format: ResponseFormat): Record<string, unknown> {
  if (format.type === 'json') return { type: 'json_object' };
  return {
    type: 'json_schema',
    json_schema: {
      name: format.name ?? 'response',
      schema: format.schema,
      ...(format.strict !== undefined ? { strict: format.strict } : {}),
    },
  };
}

/** Maps the upstream's refusal to our codes: 429/503 are back-pressure, never our failure. */
async function upstreamError(res: Response): Promise<EngineError> {
  const text = (await res.text().catch(() => '')).slice(0, 500);
  const message = `upstream HTTP ${res.status}: ${text}`;
  if (res.status === 404) return new EngineError('model_not_found', message);
  if (res.status === 400 || res.status === 422) return new EngineError('invalid_request', message);
  if (res.status === 429 || res.status === 503)
    return new EngineError('engine_unavailable', message);
  return new EngineError('engine_failure', message);
}
