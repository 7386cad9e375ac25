// The two API dialects both servers speak and the client calls (OpenAI, Ollama): their paths,
// which one a path is, and each one's error envelope, with the OpenAI error `type` of a status.

/** Inference endpoints: the agent serves them; the control plane redirects them to an agent. */
export const INFERENCE_PATHS = {
  openAIChat: '/v1/chat/completions',
  openAICompletion: '/v1/completions',
  openAIEmbedding: '/v1/embeddings',
  ollamaChat: '/api/chat',
  ollamaGenerate: '/api/generate',
  ollamaEmbed: '/api/embed',
} as const;

/**
 * The request id, on the control plane's 307 (or route answer) and on the agent's response: the
 * ticket id (`jti`), which also names the request in both sides' logs and in its job report.
 */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Model listings, each server's own (the control plane's: the fleet's). */
export const MODEL_LIST_PATHS = { openAI: '/v1/models', ollama: '/api/tags' } as const;

/** Paths under /api/ are Ollama's; everything else speaks OpenAI's dialect. */
export function isOllamaPath(path: string): boolean {
  return path.startsWith('/api/');
}

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'rate_limit_error'
  | 'server_error';

/**
 * OpenAI's error `type` for an HTTP status. A 404 is an `invalid_request_error`, as OpenAI answers
 * an unknown model (`code: model_not_found`) or an unknown route.
 */
export function openAIErrorType(status: number): OpenAIErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** What either server's error carries onto the wire. */
export interface WireError<Code extends string = string> {
  message: string;
  status: number;
  code: Code;
  param: string | null;
}

export interface OpenAIErrorBody<Code extends string = string> {
  error: { message: string; type: OpenAIErrorType; param: string | null; code: Code };
}

/** OpenAI's error envelope: `{ error: { message, type, param, code } }`. */
export function openAIErrorBody<Code extends string>(err: WireError<Code>): OpenAIErrorBody<Code> {
  const { message, status, param, code } = err;
  return { error: { message, type: openAIErrorType(status), param, code } };
}

/** Ollama's error envelope: `{ error: "message" }` (also the last line of a broken stream). */
export function ollamaErrorBody(err: { message: string }): { error: string } {
  return { error: err.message };
}

/** The error envelope of the dialect `path` belongs to. */
export function errorBodyFor(path: string, err: WireError): OpenAIErrorBody | { error: string } {
  return isOllamaPath(path) ? ollamaErrorBody(err) : openAIErrorBody(err);
}
