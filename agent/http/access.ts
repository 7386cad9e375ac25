// The access log: one line per ticketed request when it ends (or is refused), keyed by its
// request id, the ticket's jti, as on the control plane's lines about the same request.
import type { Context } from 'hono';
import type { JobReport, TicketClaims } from '../../protocol/agent-api.ts';
import { isOllamaPath, REQUEST_ID_HEADER } from '../../protocol/dialects.ts';
import type { Logger } from '../log.ts';
import type { AgentMetrics } from '../metrics.ts';
import type { AgentHttpError } from './errors.ts';

interface Opened {
  keyId: string;
  dialect: 'openai' | 'ollama';
  path: string;
}

/** How a request ended, as the client saw it: its HTTP status and why (finish reason or error code). */
export interface Ending {
  status: number;
  reason: string;
}

export class AccessLog {
  /** Admitted requests, until their end is logged: at most the jobs in flight and queued. */
  private readonly open = new Map<string, Opened>();

  constructor(
    private readonly log: Logger,
    /** Requests by outcome and tokens counted from the same ends (absent: not counted). */
    private readonly metrics?: AgentMetrics,
  ) {}

  /** A verified ticket: its id names the request from here on, the response header included. */
  begin(c: Context, claims: TicketClaims): void {
    c.header(REQUEST_ID_HEADER, claims.jti);
    this.open.set(claims.jti, { keyId: claims.sub, ...where(c) });
  }

  /** The request's one access line, from the job report that closes it. */
  end(jti: string, report: JobReport, ending: Ending): void {
    const opened = this.open.get(jti);
    this.open.delete(jti);
    const line = {
      requestId: jti,
      keyId: opened?.keyId,
      model: report.model,
      dialect: opened?.dialect,
      path: opened?.path,
      status: ending.status,
      outcome: report.outcome,
      reason: ending.reason,
      ttftMs: report.ttftMs,
      tokensIn: report.promptTokens,
      tokensOut: report.completionTokens,
      durationMs: Math.round(report.durationMs),
      error: report.error,
    };
    if (report.outcome === 'error') this.log.warn('request', line);
    else this.log.info('request', line);
    this.metrics?.ended(report, ending.reason);
  }

  /**
   * A request refused before it became a job: no ticket, an invalid one, or a replay (then the
   * verified claims name it; nothing is reported, the ticket's own job is someone else's).
   */
  refused(c: Context, err: AgentHttpError, claims?: TicketClaims): void {
    if (claims) c.header(REQUEST_ID_HEADER, claims.jti);
    this.metrics?.refused(claims?.model, err.code);
    this.log.warn('request', {
      requestId: claims?.jti,
      keyId: claims?.sub,
      model: claims?.model,
      ...where(c),
      status: err.status,
      outcome: 'rejected',
      reason: err.code,
      error: err.message,
    });
  }
}

function where(c: Context): { dialect: 'openai' | 'ollama'; path: string } {
  return { dialect: isOllamaPath(c.req.path) ? 'ollama' : 'openai', path: c.req.path };
}
