// Deterministic in-memory engine for unit tests: scripted tokens, delays and failures.
import type { AgentModel } from '../../protocol/agent-api.ts';
import { abortableDelay } from '../time.ts';
import {
  type EmbedRequest,
  type EmbedResult,
  EngineError,
  type GenerateChunk,
  type GenerateOptions,
  type GenerateRequest,
  type InferenceEngine,
  type LogprobEntry,
  type ToolCall,
} from './engine.ts';

export interface FakeEngineOptions {
  models?: string[];
  /** The GGUF type every model claims to be in (none by default). */
  quantization?: string;
  /** Tokens to emit; a function may vary them per request. */
  tokens?: string[] | ((req: GenerateRequest) => string[]);
  /** Delay before each token, ms (0 = none, still yields to the event loop). */
  delayMs?: number;
  /** Throw this error instead of producing the first chunk. */
  failBeforeStart?: EngineError;
  /** Throw an engine failure after this many tokens. */
  failAfterTokens?: number;
  /** End the stream without the final `done` chunk (a broken engine). */
  omitDone?: boolean;
  /** Prompt tokens the final chunk says were served from a cache (none by default). */
  cachedPromptTokens?: number;
  /** Calls to make after the tokens, each streamed as its head and two argument fragments. */
  toolCalls?: ToolCall[] | ((req: GenerateRequest) => ToolCall[]);
}

export const FAKE_EMBEDDING_SIZE = 4;

/** Token i's scripted log probability (-(i+1)/10) and `top` alternatives: itself, then `alt1`… */
export function fakeLogprob(text: string, i: number, top: number): LogprobEntry {
  const bytes = (t: string) => [...new TextEncoder().encode(t)];
  const logprob = -(i + 1) / 10;
  const alternatives = Array.from({ length: top }, (_, k) => {
    const token = k === 0 ? text : `alt${k}`;
    return { token, logprob: logprob - k, bytes: bytes(token) };
  });
  return { token: text, logprob, bytes: bytes(text), top: alternatives };
}

export class FakeEngine implements InferenceEngine {
  readonly kind = 'fake';
  /** Generations currently running. */
  active = 0;
  /** Generations that stopped because their signal aborted. */
  aborted = 0;
  /** Every request received, in order. */
  readonly requests: GenerateRequest[] = [];
  /** Every embedding request received, in order. */
  readonly embedRequests: EmbedRequest[] = [];
  closed = false;

  constructor(private readonly options: FakeEngineOptions = {}) {}

  async listModels(): Promise<AgentModel[]> {
    const quantization = this.options.quantization;
    return (this.options.models ?? ['fake-model']).map((name) => ({
      name,
      loaded: true,
      ...(quantization ? { quantization } : {}),
    }));
  }

  generate(req: GenerateRequest, opts: GenerateOptions): AsyncIterable<GenerateChunk> {
    return this.run(req, opts.signal);
  }

  private async *run(req: GenerateRequest, signal: AbortSignal): AsyncGenerator<GenerateChunk> {
    this.requests.push(req);
    this.active++;
    try {
      const models = this.options.models ?? ['fake-model'];
      if (!models.includes(req.model)) {
        throw new EngineError('model_not_found', `model '${req.model}' not found`);
      }
      if (this.options.failBeforeStart) throw this.options.failBeforeStart;
      const script = this.options.tokens ?? ['Hello', ',', ' world', '!'];
      const all = typeof script === 'function' ? script(req) : script;
      const limit = req.maxTokens ?? Number.POSITIVE_INFINITY;
      const tokens = all.slice(0, limit);
      for (const [i, text] of tokens.entries()) {
        if (this.options.failAfterTokens === i) {
          throw new EngineError('engine_failure', 'fake engine failure');
        }
        await abortableDelay(this.options.delayMs ?? 0, signal);
        yield req.logprobs === undefined
          ? { type: 'token', text }
          : { type: 'token', text, logprobs: [fakeLogprob(text, i, req.logprobs)] };
      }
      const calls =
        typeof this.options.toolCalls === 'function'
          ? this.options.toolCalls(req)
          : (this.options.toolCalls ?? []);
      for (const [index, call] of calls.entries()) {
        await abortableDelay(this.options.delayMs ?? 0, signal);
        const half = Math.ceil(call.arguments.length / 2);
        yield { type: 'tool_call', index, id: call.id, name: call.name, arguments: '' };
        yield { type: 'tool_call', index, arguments: call.arguments.slice(0, half) };
        yield { type: 'tool_call', index, arguments: call.arguments.slice(half) };
      }
      if (this.options.omitDone) return;
      const prompt = req.messages ? req.messages.map((m) => m.content).join(' ') : req.prompt;
      yield {
        type: 'done',
        finishReason: tokens.length < all.length ? 'length' : calls.length ? 'tool_calls' : 'stop',
        promptTokens: prompt.split(/\s+/).filter(Boolean).length,
        completionTokens: tokens.length,
        ...(this.options.cachedPromptTokens !== undefined
          ? { cachedPromptTokens: this.options.cachedPromptTokens }
          : {}),
      };
    } catch (err) {
      if (signal.aborted) {
        this.aborted++;
        throw new EngineError('aborted', 'generation aborted', { cause: err });
      }
      throw err;
    } finally {
      this.active--;
    }
  }

  /** Vectors of FAKE_EMBEDDING_SIZE numbers derived from each text's characters. */
  async embed(req: EmbedRequest): Promise<EmbedResult> {
    this.embedRequests.push(req);
    const models = this.options.models ?? ['fake-model'];
    if (!models.includes(req.model)) {
      throw new EngineError('model_not_found', `model '${req.model}' not found`);
    }
    if (this.options.failBeforeStart) throw this.options.failBeforeStart;
    const embeddings = req.input.map((text) => {
      const v = new Array<number>(FAKE_EMBEDDING_SIZE).fill(0);
      for (const [i, ch] of [...text].entries()) {
        const slot = i % FAKE_EMBEDDING_SIZE;
        v[slot] = (v[slot] ?? 0) + (ch.codePointAt(0) ?? 0) / 128;
      }
      return v;
    });
    const promptTokens = req.input.reduce((n, t) => n + t.split(/\s+/).filter(Boolean).length, 0);
    return { embeddings, promptTokens };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
