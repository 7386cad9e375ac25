// CORS for browser clients, alike on the control plane and the agent (hono/cors): a listed origin
// (or any, with `*`) may call; no cookies or credentials are ever allowed, keys travel as Bearer
// headers and tickets in the URL. Preflights are answered 204 here, before any auth or redirect.
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { REQUEST_ID_HEADER } from './dialects.ts';

/** Response headers a page may read: the request id, the chosen agent, a 429's wait. */
const EXPOSED_HEADERS = [REQUEST_ID_HEADER, 'x-titan-agent', 'retry-after'];
/** How long a browser may reuse a preflight's answer, seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

/** `https://a.example, https://b.example` or `*` as a list; unset or blank = none. */
export function parseOrigins(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter((o) => o !== '');
}

export interface CorsPolicy {
  /** Origins allowed, exactly as browsers send them (`http://localhost:5173`), or `*`. */
  origins: readonly string[];
  /**
   * Also allow `Origin: null`: what a browser sends after following a cross-origin redirect (the
   * control plane's 307 to an agent). The agent allows it; such a request still needs its ticket.
   */
  allowNullOrigin?: boolean;
}

/** The middleware; origins not allowed get no Access-Control-Allow-Origin, so the browser refuses. */
export function corsMiddleware(policy: CorsPolicy): MiddlewareHandler {
  const any = policy.origins.includes('*');
  return cors({
    origin: (origin) => {
      if (any) return '*';
      if (origin === 'null') return policy.allowNullOrigin ? '*' : null;
      return policy.origins.includes(origin) ? origin : null;
    },
    allowMethods: ['GET', 'HEAD', 'POST'],
    // Request headers are mirrored (SDKs add their own, e.g. the OpenAI SDK's x-stainless-*):
    // without credentials, a header grants nothing a page could not send with curl.
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_S,
    credentials: false,
  });
}
