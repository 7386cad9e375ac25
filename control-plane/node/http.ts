// Node HTTP(S) server options for the control plane: TLS from files, slow-client timeouts, and the
// refusal to serve a network without API keys.
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import { createServer as createHttpsServer } from 'node:https';

/** A client must send its headers within this long, and its whole request within the next. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

export interface ServeSettings {
  certFile: string | undefined;
  keyFile: string | undefined;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/**
 * `serve()` options: HTTPS when both TLS_CERT and TLS_KEY are set, and the slow-client limits
 * (Node's defaults are 60 s for headers and 300 s per request, checked every 30 s).
 */
export function serveOptions(s: ServeSettings) {
  const headersTimeout = s.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  const requestTimeout = Math.max(s.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, headersTimeout);
  const timeouts = {
    headersTimeout,
    requestTimeout,
    connectionsCheckingInterval: Math.min(1000, headersTimeout),
  };
  if (!s.certFile && !s.keyFile) return { serverOptions: timeouts };
  if (!s.certFile || !s.keyFile) throw new Error('TLS needs both TLS_CERT and TLS_KEY');
  const serverOptions: ServerOptions = {
    cert: readFileSync(s.certFile),
    key: readFileSync(s.keyFile),
    ...timeouts,
  };
  return { createServer: createHttpsServer, serverOptions };
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Development mode (no API keys) only on loopback, unless told it is insecure. */
export function assertSafeBind(opts: { authMode: string; host: string; insecure: boolean }): void {
  if (opts.authMode !== 'development' || isLoopback(opts.host) || opts.insecure) return;
  throw new Error(
    `refusing to serve ${opts.host} without API keys (AUTH_MODE=development); ` +
      'use AUTH_MODE=keys, bind 127.0.0.1, or set INSECURE=1 to accept the risk',
  );
}
