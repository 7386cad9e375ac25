// Ollama engine: streams through the `ollama` client, aborting each stream on its own.
import {
  type ChatResponse,
  type GenerateResponse,
  type Message,
  Ollama,
  type Options,
  type Tool,
} from 'ollama';
import type { AgentModel } from '../../protocol/agent-api.ts';
import {
  type ChatMessage,
  type EmbedRequest,
  type EmbedResult,
  EngineError,
  type GenerateChunk,
  type GenerateOptions,
  type GenerateRequest,
  type InferenceEngine,
  type ResponseFormat,
  requireServed,
  type SamplingOptions,
  type ToolDefinition,
  toEngineError,
} from './engine.ts';
import { fromTokenList } from './logprobs.ts';
import { argumentsObject, newToolCallId } from './tool-calls.ts';

export interface OllamaEngineOptions {
  /** e.g. http://127.0.0.1:11434 */
  host: string;
  fetch?: typeof fetch;
  /** When set, only these models are advertised and served. */
  models?: string[];
  /** Ollama's OLLAMA_NUM_PARALLEL: requests one loaded model serves at once (the agent's slots). */
  numParallel?: number;
}

/** What `/api/show` tells about a model, cached per name. */
export interface OllamaModelFacts {
  family?: string;
  parameterSize?: string;
  quantization?: string;
  contextLength?: number;
}

export class OllamaEngine implements InferenceEngine {
  readonly kind = 'ollama';
  private readonly fetchImpl: typeof fetch;
  private readonly client: Ollama;
  private readonly facts = new Map<string, OllamaModelFacts>();

  constructor(private readonly options: OllamaEngineOptions) {
    this.fetchImpl = options.fetch ?? fetch;
    this.client = new Ollama({ host: options.host, fetch: this.fetchImpl });
  }

  get capacity(): number | undefined {
    return this.options.numParallel;
  }

  /**
   * Every model Ollama has, with the memory it needs: for a loaded model `/api/ps`'s `size`
   * (weights + KV cache as actually allocated), otherwise the file size from `/api/tags`.
   */
  async listModels(): Promise<AgentModel[]> {
    const [list, running] = await Promise.all([
      this.client.list(),
      this.client.ps().catch(() => ({ models: [] })),
    ]);
    const loaded = new Map(running.models.map((m) => [m.name, m.size]));
    const allowed = this.options.models ? new Set(this.options.models) : undefined;
    return list.models
      .filter((m) => !allowed || allowed.has(m.name))
      .map((m) => {
        // Ollama's own name for the file type (`Q4_K_M`), passed on as it is.
        const quantization = m.details?.quantization_level?.slice(0, 32);
        return {
          name: m.name,
          loaded: loaded.has(m.name),
          memoryBytes: loaded.get(m.name) ?? m.size,
          ...(quantization ? { quantization } : {}),
        };
      });
  }

  /** Family, size, quantization and context length from `/api/show` (cached). */
  async modelFacts(model: string): Promise<OllamaModelFacts> {
    const cached = this.facts.get(model);
    if (cached) return cached;
    const show = await this.client.show({ model });
    const info = (show.model_info ?? {}) as unknown as Record<string, unknown>;
    const arch =
      typeof info['general.architecture'] === 'string' ? info['general.architecture'] : '';
    const ctx = info[`${arch}.context_length`];
    const facts: OllamaModelFacts = {
      ...(show.details?.family ? { family: show.details.family } : {}),
      ...(show.details?.parameter_size ? { parameterSize: show.details.parameter_size } : {}),
      ...(show.details?.quantization_level
        ? { quantization: show.details.quantization_level }
        : {}),
      ...(typeof ctx === 'number' ? { contextLength: ctx } : {}),
    };
    this.facts.set(model, facts);
    return facts;
  }

  generate(req: GenerateRequest, opts: GenerateOptions): AsyncIterable<GenerateChunk> {
    return this.run(req, opts.signal);
  }

  private async *run(req: GenerateRequest, outer: AbortSignal): AsyncGenerator<GenerateChunk> {
    requireServed(this.options.models, req.model);
    // A client per stream whose fetch carries this stream's signal: aborting it (or the
    // iterator's own abort()) cancels exactly this request, never the others.
    const local = new AbortController();
    const signal = AbortSignal.any([outer, local.signal]);
    const base = this.fetchImpl;
    const client = new Ollama({
      host: this.options.host,
      fetch: (input, init) =>
        base(input, {
          ...init,
          signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal,
        }),
    });
    const options = toOllamaOptions(req);
    const format = req.format ? { format: toOllamaFormat(req.format) } : {};
    const tools = toOllamaTools(req);
    const logprobs =
      req.logprobs === undefined
        ? {}
        : { logprobs: true, ...(req.logprobs > 0 ? { top_logprobs: req.logprobs } : {}) };
    let stream: AsyncIterable<ChatResponse | GenerateResponse> & { abort(): void };
    try {
      stream = req.messages
        ? await client.chat({
            model: req.model,
            messages: req.messages.map(toOllamaMessage),
            stream: true,
            options,
            ...format,
            ...tools,
            ...logprobs,
          })
        : await client.generate({
            model: req.model,
            prompt: req.prompt,
            raw: true,
            stream: true,
            options,
            ...format,
            ...logprobs,
          });
    } catch (err) {
      throw mapOllamaError(err, signal);
    }
    let sawDone = false;
    let calls = 0;
    let scoredTokens = 0;
    try {
      for await (const part of stream) {
        const text = 'message' in part ? part.message.content : (part.response ?? '');
        const scored = req.logprobs !== undefined ? fromTokenList(part.logprobs) : [];
        scoredTokens += scored.length;
        if (scored.length) yield { type: 'token', text, logprobs: scored };
        else if (text) yield { type: 'token', text };
        // Ollama sends each call whole: one chunk carries its id, name and all its arguments.
        for (const call of 'message' in part ? (part.message.tool_calls ?? []) : []) {
          const id = (call as { id?: unknown }).id;
          yield {
            type: 'tool_call',
            index: calls++,
            id: typeof id === 'string' && id ? id : newToolCallId(),
            name: call.function.name,
            arguments: JSON.stringify(call.function.arguments ?? {}),
          };
        }
        if (part.done) {
          sawDone = true;
          // Asked for and not sent (an Ollama too old for the field): an error, never silence.
          if (req.logprobs !== undefined && (part.eval_count ?? 0) > 0 && scoredTokens === 0) {
            throw new EngineError('engine_failure', 'logprobs: this Ollama sent none');
          }
          const length = part.done_reason === 'length';
          yield {
            type: 'done',
            finishReason: length ? 'length' : calls ? 'tool_calls' : 'stop',
            promptTokens: part.prompt_eval_count ?? 0,
            completionTokens: part.eval_count ?? 0,
          };
          return;
        }
      }
    } catch (err) {
      throw mapOllamaError(err, signal);
    } finally {
      if (!sawDone) stream.abort();
      local.abort();
    }
    if (signal.aborted) throw new EngineError('aborted', 'generation aborted');
    throw new EngineError('stream_incomplete', 'Ollama stream ended without a done message');
  }

  /** Ollama's `/api/embed`, one call for the whole batch. */
  async embed(req: EmbedRequest, opts: GenerateOptions): Promise<EmbedResult> {
    requireServed(this.options.models, req.model);
    const base = this.fetchImpl;
    const client = new Ollama({
      host: this.options.host,
      fetch: (input, init) => base(input, { ...init, signal: opts.signal }),
    });
    try {
      const res = await client.embed({
        model: req.model,
        input: req.input,
        ...(req.dimensions !== undefined ? { dimensions: req.dimensions } : {}),
      });
      if (res.embeddings.length !== req.input.length) {
        throw new EngineError(
          'engine_failure',
          `Ollama returned ${res.embeddings.length} embeddings for ${req.input.length} inputs`,
        );
      }
      return { embeddings: res.embeddings, promptTokens: res.prompt_eval_count ?? 0 };
    } catch (err) {
      throw mapOllamaError(err, opts.signal);
    }
  }

  async close(): Promise<void> {}
}

/**
 * Ollama's `tools`. Ollama has no `tool_choice`: `none` sends no tools, and a forced call
 * (`required`, a named function) or `parallel_tool_calls: false` is refused, never ignored.
 */
export function toOllamaTools(req: GenerateRequest): { tools?: Tool[] } {
  const choice = req.toolChoice ?? 'auto';
  if (!req.tools?.length || choice === 'none') return {};
  if (choice !== 'auto') {
    throw new EngineError(
      'invalid_request',
      'tool_choice: Ollama cannot force a tool call; use "auto" or "none" with this model',
    );
  }
  if (req.parallelToolCalls === false) {
    throw new EngineError(
      'invalid_request',
      'parallel_tool_calls: Ollama cannot limit an answer to one tool call',
    );
  }
  return { tools: req.tools.map(toOllamaTool) };
}

function toOllamaTool(tool: ToolDefinition): Tool {
  return {
    type: 'function',
    function: {
      name: tool.name,
      ...(tool.description ? { description: tool.description } : {}),
      ...(tool.parameters ? { parameters: tool.parameters as Tool['function']['parameters'] } : {}),
    },
  };
}

/** A message as Ollama takes it: calls with arguments as objects, tool results with the name. */
export function toOllamaMessage(message: ChatMessage): Message {
  const out: Message = { role: message.role, content: message.content };
  if (message.toolCalls?.length) {
    out.tool_calls = message.toolCalls.map((call) => ({
      function: { name: call.name, arguments: argumentsObject(call, 'invalid_request') },
    }));
  }
  if (message.toolName) out.tool_name = message.toolName;
  return out;
}

/** Ollama's `format`: "json" or the JSON schema itself. */
export function toOllamaFormat(format: ResponseFormat): string | object {
  return format.type === 'json' ? 'json' : format.schema;
}

export function toOllamaOptions(req: SamplingOptions): Partial<Options> {
  const options: Partial<Options> = {};
  if (req.maxTokens !== undefined) options.num_predict = req.maxTokens;
  if (req.temperature !== undefined) options.temperature = req.temperature;
  if (req.topP !== undefined) options.top_p = req.topP;
  if (req.topK !== undefined) options.top_k = req.topK;
  if (req.minP !== undefined) options.min_p = req.minP;
  if (req.repeatPenalty !== undefined) options.repeat_penalty = req.repeatPenalty;
  if (req.frequencyPenalty !== undefined) options.frequency_penalty = req.frequencyPenalty;
  if (req.presencePenalty !== undefined) options.presence_penalty = req.presencePenalty;
  if (req.seed !== undefined) options.seed = req.seed;
  if (req.stop?.length) options.stop = req.stop;
  return options;
}

function mapOllamaError(err: unknown, signal: AbortSignal): EngineError {
  if (err instanceof EngineError) return err;
  if (signal.aborted) return new EngineError('aborted', 'generation aborted', { cause: err });
  const status = (err as { status_code?: unknown } | null)?.status_code;
  const message = err instanceof Error ? err.message : String(err);
  if (status === 404) return new EngineError('model_not_found', message, { cause: err });
  if (status === 400) return new EngineError('invalid_request', message, { cause: err });
  // Ollama answers 503 when its queue (OLLAMA_MAX_QUEUE) is full: the client fails over at once,
  // and the job counts against the agent's breaker (a 5xx, as in Envoy's outlier detection), so an
  // overloaded Ollama sheds traffic for a cooldown instead of being handed every next request.
  if (status === 503 || status === 429) {
    return new EngineError('engine_unavailable', `Ollama is busy: ${message}`, { cause: err });
  }
  if (message.startsWith('Did not receive done')) {
    return new EngineError('stream_incomplete', message, { cause: err });
  }
  if (err instanceof TypeError) {
    return new EngineError('engine_unavailable', `Ollama unreachable: ${message}`, { cause: err });
  }
  return toEngineError(err, signal);
}

/** True when an Ollama server answers `GET /api/version` within `timeoutMs`. */
export async function probeOllama(
  host: string,
  { fetch: fetchImpl = fetch, timeoutMs = 1000 }: { fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<boolean> {
  try {
    const res = await fetchImpl(new URL('/api/version', normalizeHost(host)), {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** `localhost:11434` → `http://localhost:11434` (OLLAMA_HOST may omit the scheme). */
export function normalizeHost(host: string): string {
  return /^https?:\/\//.test(host) ? host : `http://${host}`;
}
