// Node HTTP(S) server options for the control plane: TLS from files, slow-client timeouts, and the
// refusal to serve a network without API keys.
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import { createServer as createHttpsServer } from 'node:https';
import type { ServerType } from '@hono/node-server';

/** A client must send its headers within this long, and its whole request within the next. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

export interface TlsFiles {
  certFile: string | undefined;
  keyFile: string | undefined;
}

/** `serve()` options for HTTPS when both TLS_CERT and TLS_KEY are set, else none (HTTP). */
export function tlsServeOptions(tls: TlsFiles) {
  if (!tls.certFile && !tls.keyFile) return {};
  if (!tls.certFile || !tls.keyFile) throw new Error('TLS needs both TLS_CERT and TLS_KEY');
  const serverOptions: ServerOptions = {
    cert: readFileSync(tls.certFile),
    key: readFileSync(tls.keyFile),
  };
  return { createServer: createHttpsServer, serverOptions };
}

/** Applies the slow-client limits (Node's defaults are 60 s for headers, 300 s per request). */
export function applyTimeouts(server: ServerType, requestTimeoutMs = REQUEST_TIMEOUT_MS): void {
  if ('headersTimeout' in server) {
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = requestTimeoutMs;
  }
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
