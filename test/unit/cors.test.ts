// CORS on the control plane and the agent: preflights answered 204 before auth and never
// redirected, the 307 and the agent's answer readable by the allowed origin, `Origin: null` (a
// followed cross-origin redirect) allowed on the agent, no credentials anywhere.
import { beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../control-plane/core/app.ts';
import { loadConfig } from '../../control-plane/core/config.ts';
import { openSqlite } from '../../control-plane/node/sqlite.ts';
import { parseOrigins } from '../../protocol/cors.ts';
import { fakeClock, JOIN_TOKEN, MODEL, makeDeps, registration } from '../contract/fixtures.ts';
import { chatBody, makeAgent, post } from './agent/helpers.ts';

const PAGE = 'http://page.test:5173';

const preflight = (origin: string) => ({
  method: 'OPTIONS',
  headers: {
    origin,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization, content-type',
  },
});

async function controlPlane(env: Record<string, string>) {
  const app = createApp(await makeDeps(openSqlite(':memory:').store, fakeClock(), env));
  const reg = await app.request('/v1/agents/register', {
    method: 'POST',
    headers: { authorization: `Bearer ${JOIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(registration('agent-a')),
  });
  expect(reg.status).toBe(200);
  return app;
}

describe('CORS settings', () => {
  it('CORS_ORIGINS is a list; default * in development mode, none with keys', () => {
    expect(parseOrigins(' http://a.test/ ,http://b.test,, ')).toEqual([
      'http://a.test',
      'http://b.test',
    ]);
    expect(loadConfig({ AUTH_MODE: 'development' }).corsOrigins).toEqual(['*']);
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: PAGE }).corsOrigins).toEqual([PAGE]);
  });
});

describe('control plane', () => {
  it('answers a preflight on a redirected path 204, before the API-key check', async () => {
    const app = await controlPlane({ AUTH_MODE: 'keys', CORS_ORIGINS: PAGE });
    const res = await app.request('/v1/chat/completions', preflight(PAGE));
    expect(res.status).toBe(204);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization,content-type');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('gives an origin not listed no Access-Control-Allow-Origin', async () => {
    const app = await controlPlane({ AUTH_MODE: 'keys', CORS_ORIGINS: PAGE });
    const res = await app.request('/v1/chat/completions', preflight('http://evil.test'));
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const none = await controlPlane({ AUTH_MODE: 'keys' });
    const refused = await none.request('/v1/chat/completions', preflight(PAGE));
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('the 307 and an error both carry the CORS headers a page needs to read them', async () => {
    const app = await controlPlane({});
    const redirect = await app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { origin: PAGE, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('access-control-allow-origin')).toBe('*');
    expect(redirect.headers.get('access-control-expose-headers')).toContain('x-request-id');
    const bad = await app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { origin: PAGE, 'content-type': 'application/json' },
      body: '{',
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('agent', () => {
  let agent: Awaited<ReturnType<typeof makeAgent>>;
  beforeEach(async () => {
    agent = await makeAgent();
  });

  it('answers a preflight with Origin: null 204 without a ticket', async () => {
    const res = await agent.app.request(
      '/v1/chat/completions?ticket=not-checked-here',
      preflight('null'),
    );
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(agent.reports).toHaveLength(0);
  });

  it('a redirected POST (Origin: null) is answered readable', async () => {
    const res = await post(agent, '/v1/chat/completions', chatBody(), await agent.ticket(), {
      headers: { origin: 'null', 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });
});
