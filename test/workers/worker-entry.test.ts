// The Workers entry itself (worker.ts) inside workerd: D1 binding, secret key, cron upkeep.
import {
  createExecutionContext,
  createScheduledController,
  env,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import worker, { type WorkerEnv } from '../../control-plane/worker.ts';
import { JOIN_TOKEN, MODEL, registration } from '../contract/fixtures.ts';

const workerEnv = env as unknown as WorkerEnv;

async function call(path: string, init?: RequestInit) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`https://cp.example${path}`, init), workerEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** A fresh client API key, created through the admin API (the Worker runs in keys mode). */
async function apiKey(): Promise<string> {
  const res = await call('/admin/api-keys', {
    method: 'POST',
    headers: { authorization: 'Bearer test-admin-key', 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'worker-test' }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { key: string }).key;
}

describe('worker entry', () => {
  it('registers, routes with a 307 and signs with the TICKET_PRIVATE_KEY secret', async () => {
    const reg = await call('/v1/agents/register', {
      method: 'POST',
      headers: { authorization: `Bearer ${JOIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(registration('edge-agent')),
    });
    expect(reg.status).toBe(200);
    expect(((await reg.json()) as { jwksUrl: string }).jwksUrl).toBe(
      'https://cp.example/.well-known/jwks.json',
    );

    const body = JSON.stringify({ model: MODEL, prompt: 'Hello' });
    const anonymous = await call('/v1/completions', { method: 'POST', body });
    expect(anonymous.status).toBe(401);
    const key = await apiKey();
    const res = await call('/v1/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body,
    });
    expect(res.status).toBe(307);
    const ticket = new URL(res.headers.get('location') ?? '').searchParams.get('ticket') ?? '';
    const jwks = await (await call('/.well-known/jwks.json')).json();
    const { payload } = await jwtVerify(ticket, createLocalJWKSet(jwks as never), {
      audience: 'edge-agent',
      algorithms: ['RS256'],
    });
    expect(payload).toMatchObject({ model: MODEL, max_tokens: 16 });
    expect(payload.sub).toMatch(/^key_/);
  });

  it('runs upkeep from the cron trigger: a silent agent goes offline', async () => {
    const longAgo = Date.now() - 45_000;
    await env.DB.prepare(
      `INSERT INTO agents (id, url, engine, version, max_jobs, stats, registered_at, last_heartbeat_at)
       VALUES ('silent', 'http://127.0.0.1:9999', 'fake', '0', 4, '{}', ?, ?)`,
    )
      .bind(longAgo, longAgo)
      .run();
    const ctrl = createScheduledController({ scheduledTime: Date.now(), cron: '* * * * *' });
    const ctx = createExecutionContext();
    await worker.scheduled(ctrl, workerEnv, ctx);
    await waitOnExecutionContext(ctx);
    const headers = { authorization: `Bearer ${await apiKey()}` };
    const status = (await (await call('/v1/status', { headers })).json()) as {
      agents: { id: string; state: string }[];
    };
    expect(status.agents.find((a) => a.id === 'silent')?.state).toBe('offline');
  });
});
