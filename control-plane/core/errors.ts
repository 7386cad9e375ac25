// The control plane's one error class, with a closed code union mapped to HTTP statuses.
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  invalid_api_key: 401,
  forbidden: 403,
  agent_id_taken: 409,
  lease_refused: 409,
  rate_limit_exceeded: 429,
  concurrency_limit_exceeded: 429,
  not_found: 404,
  model_not_found: 404,
  agent_not_found: 404,
  payload_too_large: 413,
  no_agent_available: 503,
  internal_error: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  /** Seconds a client should wait before retrying (sent as Retry-After). */
  readonly retryAfterSeconds: number | undefined;
  readonly param: string | null;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { retryAfterSeconds?: number; param?: string } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.param = opts.param ?? null;
  }
}

function openAiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** OpenAI's error envelope: `{ error: { message, type, param, code } }`. */
export function openAiErrorBody(err: ApiError) {
  return {
    error: { message: err.message, type: openAiType(err.status), param: err.param, code: err.code },
  };
}

/** Ollama's error envelope: `{ error: "message" }`. */
export function ollamaErrorBody(err: ApiError) {
  return { error: err.message };
}

/** Paths under /api/ are Ollama's; everything else speaks OpenAI's dialect. */
export function isOllamaPath(path: string): boolean {
  return path.startsWith('/api/');
}
