// The Workers entry itself (worker.ts) inside workerd: D1 binding, secret key, cron upkeep.
import {
  createExecutionContext,
  createScheduledController,
  env,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import worker, { type WorkerEnv } from '../../control-plane/worker/main.ts';
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
  it('registers, routes with a 307 and signs with the TICKET_PRIVATE_KEY secret (RSA: RS256)', async () => {
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
    // Older than HEARTBEAT_TIMEOUT + LIVENESS_WRITE_INTERVAL (30 s + 120 s in wrangler.toml).
    const longAgo = Date.now() - 200_000;
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

describe('client-distance routing on Workers', () => {
  it('uses request.cf to prefer the agent near the client', async () => {
    const join = { authorization: `Bearer ${JOIN_TOKEN}`, 'content-type': 'application/json' };
    const model = 'geo-model';
    const reg = (id: string, location: { latitude: number; longitude: number }) =>
      call('/v1/agents/register', {
        method: 'POST',
        headers: join,
        body: JSON.stringify(
          registration(id, { models: [{ name: model, loaded: true }], location }),
        ),
      });
    await reg('berlin', { latitude: 52.52, longitude: 13.405 });
    await reg('new-york', { latitude: 40.71, longitude: -74.0 });
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request('https://cp.example/v1/route', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await apiKey()}` },
        body: JSON.stringify({ model, debug: true }),
        cf: { latitude: '52.37', longitude: '4.89' }, // Amsterdam
      } as RequestInit),
      workerEnv,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const body = (await res.json()) as {
      agent: { id: string };
      debug: { candidates: { agent: string; components: { rtt: number } }[] };
    };
    expect(body.agent.id).toBe('berlin');
    const rtt = Object.fromEntries(body.debug.candidates.map((c) => [c.agent, c.components.rtt]));
    expect(rtt.berlin).toBeGreaterThan(0.85); // ~580 km: ~6 ms
    expect(rtt['new-york']).toBeLessThan(0.5); // ~5,900 km: ~59 ms
  });
});

describe('a Worker without its ticket key', () => {
  const withoutKey = (vars: Record<string, string>) =>
    ({ ...workerEnv, TICKET_PRIVATE_KEY: undefined, ...vars }) as WorkerEnv;

  it('refuses to serve in keys mode, naming the missing secret', async () => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request('https://cp.example/healthz'), withoutKey({}), ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(body.error.type).toBe('server_error');
    expect(body.error.message).toContain('TICKET_PRIVATE_KEY');
  });

  it('serves in development mode with an ephemeral ES256 key', async () => {
    const ctx = createExecutionContext();
    const env = withoutKey({ AUTH_MODE: 'development' });
    const res = await worker.fetch(
      new Request('https://cp.example/.well-known/jwks.json'),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: { kid: string; alg: string }[] };
    expect(keys.map((k) => k.alg)).toEqual(['ES256']);
  });
});

describe('TICKET_ALG on a Worker', () => {
  it('refuses to build when it pins an algorithm the TICKET_PRIVATE_KEY secret is not for', async () => {
    const ctx = createExecutionContext();
    const env = { ...workerEnv, TICKET_ALG: 'ES256' } as WorkerEnv;
    await expect(worker.fetch(new Request('https://cp.example/healthz'), env, ctx)).rejects.toThrow(
      'TICKET_ALG is ES256 but TICKET_PRIVATE_KEY is an RS256 (RSA) key',
    );
  });
});
