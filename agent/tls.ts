// Agent TLS: serve HTTPS from PEM files, and reach the control plane trusting a custom CA.
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';

/** `serve()` options for HTTPS when a certificate and key are configured, else none. */
export function tlsServeOptions(certFile: string | undefined, keyFile: string | undefined) {
  if (!certFile || !keyFile) return {};
  const serverOptions: ServerOptions = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
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

/** A client must send its headers within this long, and its whole request within the next. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 60_000;
