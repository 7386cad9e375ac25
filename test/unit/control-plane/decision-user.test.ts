// OpenAI's `user` reaches the control plane's decision log line (redirected paths and /v1/route);
// a malformed one is a 400 naming it.
import { describe, expect, it } from 'vitest';
import { createApp } from '../../../control-plane/core/app.ts';
import { openSqlite } from '../../../control-plane/node/sqlite.ts';
import { fakeClock, JOIN_TOKEN, MODEL, makeDeps, registration } from '../../contract/fixtures.ts';

async function setup() {
  const lines: { msg: string; fields: Record<string, unknown> }[] = [];
  const deps = await makeDeps(openSqlite(':memory:').store, fakeClock());
  deps.log = {
    info: (msg, fields = {}) => lines.push({ msg, fields }),
    warn() {},
    error() {},
  };
  const app = createApp(deps);
  const reg = await app.request('/v1/agents/register', {
    method: 'POST',
    headers: { authorization: `Bearer ${JOIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(registration('agent-a')),
  });
  expect(reg.status).toBe(200);
  const post = (path: string, body: object) =>
    app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, ...body }),
    });
  const decisions = () => lines.filter((l) => l.msg === 'MCDA agent selected');
  return { post, decisions };
}

describe('user in the decision log', () => {
  it.each([
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] }],
    ['/v1/completions', { prompt: 'hi' }],
    ['/v1/route', {}],
  ])('%s logs the user with the decision', async (path, body) => {
    const { post, decisions } = await setup();
    const res = await post(path, { ...body, user: 'end-user-42' });
    expect(res.status).toBeLessThan(400);
    expect(decisions()[0]?.fields.user).toBe('end-user-42');
  });

  it('no user: none logged', async () => {
    const { post, decisions } = await setup();
    await post('/v1/route', {});
    expect(decisions()[0]?.fields).not.toHaveProperty('user');
  });

  it('a user that is not a string is a 400 naming it', async () => {
    const { post } = await setup();
    const res = await post('/v1/chat/completions', {
      messages: [{ role: 'user', content: 'hi' }],
      user: 42,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('user');
  });
});
