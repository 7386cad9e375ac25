// The agent's HTTP errors: one closed code union and its statuses; their bodies are
// protocol/dialects.ts's OpenAI and Ollama envelopes.
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { EngineError } from '../engines/engine.ts';
import { TicketError, type TicketErrorCode } from '../tickets.ts';

export type AgentErrorCode =
  | TicketErrorCode
  | 'invalid_json'
  | 'invalid_request'
  | 'payload_too_large'
  | 'request_cancelled'
  | 'model_not_found'
  | 'route_not_found'
  | 'agent_busy'
  | 'ticket_refused'
  | 'agent_draining'
  | 'engine_unavailable'
  | 'engine_failure'
  | 'stream_incomplete'
  | 'internal_error';

const STATUS: Record<AgentErrorCode, ContentfulStatusCode> = {
  ticket_missing: 401,
  ticket_invalid: 401,
  ticket_expired: 401,
  ticket_wrong_audience: 401,
  ticket_wrong_issuer: 401,
  ticket_unknown_key: 401,
  ticket_replayed: 401,
  ticket_model_mismatch: 401,
  ticket_wrong_type: 401,
  ticket_not_yet_valid: 401,
  ticket_max_tokens_exceeded: 401,
  ticket_before_registration: 401,
  verifier_not_ready: 503,
  keys_unavailable: 503,
  invalid_json: 400,
  invalid_request: 400,
  payload_too_large: 413,
  // nginx's "client closed request": only logs ever see it, the client is gone.
  request_cancelled: 499 as ContentfulStatusCode,
  model_not_found: 404,
  route_not_found: 404,
  agent_busy: 429,
  // The control plane refused to confirm the ticket's slot lease (docs/adr/0009).
  ticket_refused: 409,
  agent_draining: 503,
  engine_unavailable: 503,
  engine_failure: 500,
  stream_incomplete: 500,
  internal_error: 500,
};

export class AgentHttpError extends Error {
  readonly code: AgentErrorCode;
  readonly param: string | null;

  constructor(
    code: AgentErrorCode,
    message: string,
    options?: { param?: string; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentHttpError';
    this.code = code;
    this.param = options?.param ?? null;
  }

  get status(): ContentfulStatusCode {
    return STATUS[this.code];
  }

  /** Seconds a client should wait before retrying, for 429/503. */
  get retryAfterSeconds(): number | undefined {
    return this.status === 429 || this.status === 503 ? 1 : undefined;
  }
}

/** Any thrown value as an AgentHttpError (engine and ticket errors keep their codes). */
export function toHttpError(err: unknown): AgentHttpError {
  if (err instanceof AgentHttpError) return err;
  if (err instanceof TicketError) return new AgentHttpError(err.code, err.message, { cause: err });
  if (err instanceof EngineError) {
    const code: AgentErrorCode = err.code === 'aborted' ? 'request_cancelled' : err.code;
    return new AgentHttpError(code, err.message, { cause: err });
  }
  return new AgentHttpError('internal_error', 'internal error', { cause: err });
}
