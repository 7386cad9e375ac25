// Issue 13, finding 1: an API key in x-api-key followed the 307 to the agent. A real control plane
// (keys mode) over a socket, a listener registered as an agent, and fetch following redirects as
// the OpenAI and Ollama SDKs and `curl -L` do.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane } from '../../../control-plane/node/main.ts';
import { MODEL, registration } from '../../contract/fixtures.ts';

const json = { 'content-type': 'application/json' };
const chat = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });

describe('API keys and the redirect to an agent', () => {
  let dir: string;
  let cp: Awaited<ReturnType<typeof startControlPlane>>;
  let listener: Server;
  const seen: IncomingHttpHeaders[] = [];
  let key: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'titan-xkey-'));
    cp = await startControlPlane({
      PORT: '0',
      DATA_DIR: dir,
      AUTH_MODE: 'keys',
      ADMIN_KEY: 'admin-key-for-test',
      JOIN_TOKEN: 'join',
    });
    listener = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      res.writeHead(200, json).end('{}');
    });
    await new Promise<void>((ok) => listener.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
    const reg = await fetch(`${cp.url}/v1/agents/register`, {
      method: 'POST',
      headers: { ...json, authorization: 'Bearer join' },
      body: JSON.stringify(registration('collector', { url })),
    });
    expect(reg.status).toBe(200);
    const created = await fetch(`${cp.url}/admin/api-keys`, {
      method: 'POST',
      headers: { ...json, authorization: 'Bearer admin-key-for-test' },
      body: JSON.stringify({ name: 'victim' }),
    });
    key = ((await created.json()) as { key: string }).key;
  });
  afterAll(async () => {
    listener.close();
    await cp.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses x-api-key on redirected paths, so the key never reaches the agent', async () => {
    for (const path of ['/v1/chat/completions', '/v1/completions', '/api/chat', '/api/generate']) {
      const res = await fetch(`${cp.url}${path}`, {
        method: 'POST',
        headers: { ...json, 'x-api-key': key },
        body: chat,
      });
      expect(res.status, path).toBe(400);
      expect(JSON.stringify(await res.json()), path).toContain('Authorization: Bearer');
    }
    expect(JSON.stringify(seen)).not.toContain(key);
    // With Authorization the redirect is followed, and fetch leaves the key behind.
    const ok = await fetch(`${cp.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${key}` },
      body: chat,
    });
    expect(ok.status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(JSON.stringify(seen)).not.toContain(key);
  });
});
