// The engine boundary: what the agent's HTTP layer needs from an inference backend.
import type { AgentModel } from '../../protocol/agent-api.ts';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface SamplingOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  stop?: string[];
}

/** A chat request (template from the model) or a raw completion of `prompt`. */
export type GenerateRequest = SamplingOptions & { model: string } & (
    | { messages: ChatMessage[]; prompt?: undefined }
    | { prompt: string; messages?: undefined }
  );

export type FinishReason = 'stop' | 'length';

export interface TokenChunk {
  type: 'token';
  text: string;
}

export interface DoneChunk {
  type: 'done';
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
}

/** Zero or more `token` chunks, then exactly one `done` chunk. */
export type GenerateChunk = TokenChunk | DoneChunk;

export interface GenerateOptions {
  signal: AbortSignal;
}

export interface InferenceEngine {
  readonly kind: string;
  listModels(): Promise<AgentModel[]>;
  generate(req: GenerateRequest, opts: GenerateOptions): AsyncIterable<GenerateChunk>;
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

export function toEngineError(err: unknown, signal?: AbortSignal): EngineError {
  if (err instanceof EngineError) return err;
  if (signal?.aborted || (err instanceof Error && err.name === 'AbortError')) {
    return new EngineError('aborted', 'generation aborted', { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new EngineError('engine_failure', message, { cause: err });
}
