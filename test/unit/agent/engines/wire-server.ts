// A loopback server that answers the routes a test gives it ("POST /api/chat" → handler with the
// parsed JSON body), for engine tests against an upstream's documented wire format.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

export type Handler = (body: Record<string, unknown>, res: ServerResponse) => void;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** Starts the server (closed after each test) and returns its base URL. */
export async function serveRoutes(routes: Record<string, Handler>): Promise<string> {
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      const handler = routes[`${req.method} ${req.url}`];
      if (!handler) return void res.writeHead(404).end('{"error":"not found"}');
      handler(raw ? JSON.parse(raw) : {}, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
