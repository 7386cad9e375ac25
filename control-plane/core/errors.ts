// The control plane's one error class, with a closed code union mapped to HTTP statuses; its
// bodies are protocol/dialects.ts's OpenAI and Ollama envelopes.
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
