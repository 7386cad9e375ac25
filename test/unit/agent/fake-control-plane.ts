// A control plane over a real socket for tests that start a real agent: serves the JWKS, accepts
// registration, heartbeats, admissions and job reports, and keeps every call it received.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ISSUER, REGISTERED_AT } from './helpers.ts';

export interface ReceivedCall {
  path: string;
  auth: string | undefined;
  body: Record<string, unknown>;
}

export interface FakeControlPlane {
  url: string;
  received: ReceivedCall[];
  close(): Promise<void>;
}

export async function startFakeControlPlane(o: {
  jwks: unknown;
  agentId: string;
  heartbeatIntervalMs: number;
}): Promise<FakeControlPlane> {
  const received: ReceivedCall[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      const path = req.url ?? '';
      if (req.method === 'GET' && path === '/.well-known/jwks.json') {
        res.end(JSON.stringify(o.jwks));
        return;
      }
      received.push({ path, auth: req.headers.authorization, body: raw ? JSON.parse(raw) : {} });
      res.setHeader('content-type', 'application/json');
      if (path === '/v1/agents/register') {
        res.end(
          JSON.stringify({
            agentId: o.agentId,
            credential: `tca-credential-of-${o.agentId}`,
            heartbeatIntervalMs: o.heartbeatIntervalMs,
            issuer: ISSUER,
            jwksUrl: '/.well-known/jwks.json',
            registeredAt: REGISTERED_AT,
          }),
        );
      } else if (path.endsWith('/heartbeat')) {
        res.end(JSON.stringify({ heartbeatIntervalMs: o.heartbeatIntervalMs }));
      } else if (path.endsWith('/offline')) {
        res.end(JSON.stringify({ offline: true, changed: true }));
      } else if (path.endsWith('/admitted')) {
        res.end(JSON.stringify({ admitted: true }));
      } else {
        res.end(JSON.stringify({ released: true }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
