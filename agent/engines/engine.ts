// The engine boundary: what the agent's HTTP layer needs from an inference backend.
import type { AgentModel, EngineLoad } from '../../protocol/agent-api.ts';

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

/** A function call the model made; `arguments` is JSON text, as OpenAI carries it. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** An assistant turn's function calls (OpenAI `tool_calls`, Ollama `message.tool_calls`). */
  toolCalls?: ToolCall[];
  /** A `tool` message: the call it answers (OpenAI `tool_call_id`). */
  toolCallId?: string;
  /** A `tool` message: the function that produced it (Ollama `tool_name`). */
  toolName?: string;
}

/** A function the model may call (OpenAI `tools[].function`, Ollama `tools[].function`). */
export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object; absent = no arguments. */
  parameters?: JsonSchema;
}

/**
 * Whether the model must call: `auto` (its choice), `none` (never), `required` (at least one
 * call, any function), or the named function.
 */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export interface SamplingOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  /** Multiplies the logits of recently seen tokens (1 = off); llama.cpp/Ollama `repeat_penalty`. */
  repeatPenalty?: number;
  /** OpenAI-style additive penalties, -2..2. */
  frequencyPenalty?: number;
  presencePenalty?: number;
  seed?: number;
  stop?: string[];
  /**
   * Log probabilities of the answer's tokens, with this many most likely alternatives per token
   * (0 = the chosen token's only); absent = none. Engines that cannot refuse with a 400.
   */
  logprobs?: number;
}

/** A JSON Schema object as the client sent it (OpenAI `json_schema.schema`, Ollama `format`). */
export type JsonSchema = Record<string, unknown>;

/**
 * Structured output: any JSON value (`response_format: json_object`, Ollama `format: "json"`),
 * or JSON matching `schema` (`json_schema`, Ollama `format: {…}`).
 */
export type ResponseFormat =
  | { type: 'json' }
  | { type: 'json_schema'; schema: JsonSchema; name?: string; strict?: boolean };

/** A chat request (template from the model) or a raw completion of `prompt`. */
export type GenerateRequest = SamplingOptions & {
  model: string;
  format?: ResponseFormat;
  /** Functions the model may call (chat only). */
  tools?: ToolDefinition[];
  /** Default `auto` when there are tools. */
  toolChoice?: ToolChoice;
  /** `false` allows at most one call per answer (OpenAI `parallel_tool_calls`). */
  parallelToolCalls?: boolean;
  /**
   * Answers asked for (OpenAI `n`, default 1). The agent's job runs the engine once per answer
   * (agent/http/choices.ts), so an engine never sees more than 1.
   */
  n?: number;
} & ({ messages: ChatMessage[]; prompt?: undefined } | { prompt: string; messages?: undefined });

export type FinishReason = 'stop' | 'length' | 'tool_calls';

/** A token as OpenAI reports it: its text, natural-log probability and UTF-8 bytes. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
}

/** A chosen token's log probability and the most likely alternatives at its position. */
export interface LogprobEntry extends TokenLogprob {
  top: TokenLogprob[];
}

export interface TokenChunk {
  type: 'token';
  text: string;
  /** The tokens behind `text`, when the request asked for logprobs. */
  logprobs?: LogprobEntry[];
}

export interface DoneChunk {
  type: 'done';
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from a cached prefix instead of being evaluated again. */
  cachedPromptTokens?: number;
  /** The engine's sequence that ran the job and now holds its tokens (the embedded engine). */
  sequence?: number;
}

/**
 * A piece of a function call, as OpenAI streams one: the first piece of call `index` carries its
 * `id` and `name`, every piece a fragment of its JSON `arguments` (possibly empty).
 */
export interface ToolCallChunk {
  type: 'tool_call';
  index: number;
  id?: string;
  name?: string;
  arguments: string;
}

/** Zero or more `token` and `tool_call` chunks, then exactly one `done` chunk. */
export type GenerateChunk = TokenChunk | ToolCallChunk | DoneChunk;

export interface GenerateOptions {
  signal: AbortSignal;
}

/** Texts to embed, one vector each, in order. */
export interface EmbedRequest {
  model: string;
  input: string[];
  /** Vector length asked for (OpenAI/Ollama `dimensions`); engines that cannot honour it refuse. */
  dimensions?: number;
}

export interface EmbedResult {
  embeddings: number[][];
  promptTokens: number;
}

export interface InferenceEngine {
  readonly kind: string;
  listModels(): Promise<AgentModel[]>;
  /** Jobs the engine can run at once, when the engine decides it (e.g. OLLAMA_NUM_PARALLEL). */
  readonly capacity?: number;
  /** Prompts the engine keeps in its KV cache, running jobs included (default: capacity). */
  readonly cachedSequences?: number;
  /** The engine's own view of its load (queue, KV cache), for heartbeats; undefined if unknown. */
  load?(): Promise<EngineLoad | undefined>;
  generate(req: GenerateRequest, opts: GenerateOptions): AsyncIterable<GenerateChunk>;
  /** Embeddings (`/v1/embeddings`, `/api/embed`); absent where the engine has none. */
  embed?(req: EmbedRequest, opts: GenerateOptions): Promise<EmbedResult>;
  close(): Promise<void>;
}

export type EngineErrorCode =
  | 'model_not_found'
  | 'invalid_request'
  | 'aborted'
  | 'stream_incomplete'
  | 'engine_unavailable'
  | 'engine_failure';

/** Every failure an engine reports; `code` decides the HTTP status before streaming starts. */
export class EngineError extends Error {
  readonly code: EngineErrorCode;

  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineError';
    this.code = code;
  }
}

/** The 404 for a model this agent does not serve (an OpenAI `model_not_found`). */
export function modelNotServed(model: string): EngineError {
  return new EngineError('model_not_found', `model '${model}' is not served here`);
}

/** Throws modelNotServed unless `models` (when given) lists `model`. */
export function requireServed(models: readonly string[] | undefined, model: string): void {
  if (models && !models.includes(model)) throw modelNotServed(model);
}

export function toEngineError(err: unknown, signal?: AbortSignal): EngineError {
  if (err instanceof EngineError) return err;
  if (signal?.aborted || (err instanceof Error && err.name === 'AbortError')) {
    return new EngineError('aborted', 'generation aborted', { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new EngineError('engine_failure', message, { cause: err });
}
