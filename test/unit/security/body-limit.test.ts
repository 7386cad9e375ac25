// Issue 13, findings 2 and 3: chunked bodies far over the limit, sent to real servers over a socket
// (the control plane's failure-report route with a valid ticket, and an agent's inference route),
// are refused with 413 once the limit is passed, not read whole first.
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServerType, serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane } from '../../../control-plane/node/main.ts';
import {
  AGENT_MAX_BODY_BYTES,
  CONTROL_PLANE_MAX_BODY_BYTES,
} from '../../../protocol/body-limit.ts';
import { registration } from '../../contract/fixtures.ts';
import { chatBody, makeAgent } from '../agent/helpers.ts';

const CHUNK = Buffer.alloc(64 * 1024, 'x');
/** Far more than either limit plus what socket buffers on loopback can hold. */
const TOTAL = 96 * 1024 * 1024;

/**
 * POSTs `prefix` then filler bytes with `Transfer-Encoding: chunked` (no Content-Length), up to
 * `TOTAL`, stopping as soon as the server answers. Returns the status and how much was sent.
 */
function sendChunked(
  url: string,
  headers: Record<string, string>,
  prefix = '',
): Promise<{ status: number; body: string; sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request(url, { method: 'POST', headers }, (res) => {
      answered = true;
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body, sent });
      });
    });
    // The server may close the connection once it has answered; what counts is its answer.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const write = () => {
      while (!answered && sent < TOTAL) {
        const chunk = sent === 0 && prefix ? Buffer.from(prefix) : CHUNK;
        sent += chunk.byteLength;
        if (!req.write(chunk)) return void req.once('drain', write);
      }
      if (!answered) req.end();
    };
    write();
  });
}

describe('one body limit, chunked bodies counted as they arrive', () => {
  let dir: string;
  let cp: Awaited<ReturnType<typeof startControlPlane>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'titan-body-'));
    cp = await startControlPlane({
      PORT: '0',
      DATA_DIR: dir,
      AUTH_MODE: 'development',
      JOIN_TOKEN: 'j',
    });
  });
  afterAll(async () => {
    await cp.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the control plane refuses a chunked failure report past 4 MiB with 413', async () => {
    const json = { 'content-type': 'application/json' };
    const reg = await fetch(`${cp.url}/v1/agents/register`, {
      method: 'POST',
      headers: { ...json, authorization: 'Bearer j' },
      body: JSON.stringify(registration('agent-1')),
    });
    expect(reg.status).toBe(200);
    const routed = await fetch(`${cp.url}/v1/route`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ model: registration('x').models[0]?.name }),
    });
    const { ticket } = (await routed.json()) as { ticket: string };
    const jti = JSON.parse(Buffer.from(ticket.split('.')[1] ?? '', 'base64url').toString()).jti;
    const res = await sendChunked(
      `${cp.url}/v1/route/${jti}/failure`,
      { ...json, authorization: `Bearer ${ticket}` },
      '{"kind":"connect","message":"',
    );
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'payload_too_large' } });
    expect(res.sent).toBeGreaterThan(CONTROL_PLANE_MAX_BODY_BYTES);
    expect(res.sent).toBeLessThan(TOTAL);
  });

  it('an agent refuses a chunked prompt past 8 MiB with 413 and reports the ticket rejected', async () => {
    const agent = await makeAgent();
    const server: ServerType = await new Promise((ok) => {
      const s = serve({ fetch: agent.app.fetch, port: 0, hostname: '127.0.0.1' }, () => ok(s));
    });
    try {
      const { port } = server.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}/v1/chat/completions?ticket=${await agent.ticket()}`;
      const open = JSON.stringify(chatBody()).replace('say hello', '');
      const res = await sendChunked(
        url,
        { 'content-type': 'application/json' },
        open.slice(0, open.lastIndexOf('"')),
      );
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'payload_too_large' } });
      expect(res.sent).toBeGreaterThan(AGENT_MAX_BODY_BYTES);
      expect(res.sent).toBeLessThan(TOTAL);
      expect(agent.reports[0]?.report.outcome).toBe('rejected');
    } finally {
      await new Promise<void>((ok) => server.close(() => ok()));
    }
  });
});
