// Agent TLS: serve HTTPS from PEM files, and reach the control plane trusting a custom CA.
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';

/** A client must send its headers within this long, and its whole request within the next. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 60_000;

/**
 * `serve()` options: HTTPS when a certificate and key are configured, and slow-client limits
 * (Node's defaults are 60 s for headers and 300 s per request, checked every 30 s). The request
 * timeout covers receiving the request only, never a long streamed answer.
 */
export function tlsServeOptions(certFile: string | undefined, keyFile: string | undefined) {
  const timeouts = {
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: 1000,
  };
  if (!certFile || !keyFile) return { serverOptions: timeouts };
  const serverOptions: ServerOptions = {
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    ...timeouts,
  };
  return { createServer: createHttpsServer, serverOptions };
}

/**
 * A fetch that verifies servers against the system CAs plus `caFile` (certificate checks stay
 * on: a wrong name or an unknown issuer fails the call).
 */
export function fetchTrusting(caFile: string): typeof fetch {
  const ca = readFileSync(caFile, 'utf8');
  // Node's `ca` replaces the default roots, so keep them alongside the custom CA.
  const dispatcher = new Agent({ connect: { ca: [...rootCertificates, ca] } });
  const withCa = (input: string | URL | Request, init?: RequestInit) =>
    undiciFetch(input as never, { ...(init as object), dispatcher } as never);
  return withCa as unknown as typeof fetch;
}
