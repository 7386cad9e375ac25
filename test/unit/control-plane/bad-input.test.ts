// Bad input against every public control-plane endpoint: right status, shaped JSON, no slot taken.
import { beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../../control-plane/core/app.ts';
import { openSqlite } from '../../../control-plane/node/sqlite.ts';
import { fakeClock, JOIN_TOKEN, MODEL, makeDeps, registration } from '../../contract/fixtures.ts';

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const chat = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], ...extra });

type Body = string | Uint8Array;
const CASES: [string, string, Body, number, string][] = [
  ['empty body', '/v1/chat/completions', '', 400, 'invalid_json'],
  ['malformed JSON', '/v1/chat/completions', '{"model":', 400, 'invalid_json'],
  [
    'not UTF-8',
    '/v1/route',
    new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
    400,
    'invalid_json',
  ],
  ['a JSON array', '/v1/chat/completions', '[1,2]', 400, 'invalid_request'],
  [
    'deeply nested JSON',
    '/v1/chat/completions',
    `{"model":${nested(100_000)}}`,
    400,
    'invalid_request',
  ],
  ['model a number', '/v1/completions', '{"model":5,"prompt":"x"}', 400, 'invalid_request'],
  ['model missing', '/v1/route', '{}', 400, 'invalid_request'],
  ['no messages', '/v1/chat/completions', `{"model":"${MODEL}"}`, 400, 'invalid_request'],
  ['empty messages', '/v1/chat/completions', chat({ messages: [] }), 400, 'invalid_request'],
  [
    'message without a role',
    '/v1/chat/completions',
    chat({ messages: [{ content: 'hi' }] }),
    400,
    'invalid_request',
  ],
  ['no prompt', '/v1/completions', `{"model":"${MODEL}"}`, 400, 'invalid_request'],
  ['temperature 3', '/v1/chat/completions', chat({ temperature: 3 }), 400, 'invalid_request'],
  ['Ollama messages not a list', '/api/chat', chat({ messages: 'hi' }), 400, 'invalid_request'],
  [
    'Ollama prompt a number',
    '/api/generate',
    `{"model":"${MODEL}","prompt":5}`,
    400,
    'invalid_request',
  ],
  ['max_tokens negative', '/v1/chat/completions', chat({ max_tokens: -1 }), 400, 'invalid_request'],
  [
    'max_tokens a string',
    '/v1/chat/completions',
    chat({ max_tokens: '5' }),
    400,
    'invalid_request',
  ],
  [
    'max_tokens over the cap',
    '/v1/chat/completions',
    chat({ max_tokens: 5000 }),
    400,
    'invalid_request',
  ],
  ['n = 9 (above MAX_CHOICES)', '/v1/chat/completions', chat({ n: 9 }), 400, 'invalid_request'],
  [
    'stop list of 17',
    '/v1/chat/completions',
    chat({ stop: Array(17).fill('x') }),
    400,
    'invalid_request',
  ],
  [
    'logit_bias out of range',
    '/v1/chat/completions',
    chat({ logit_bias: { '1': -101 } }),
    400,
    'invalid_request',
  ],
  [
    'num_predict over the cap',
    '/api/chat',
    chat({ options: { num_predict: 99_999 } }),
    400,
    'invalid_request',
  ],
  [
    'num_predict not a number',
    '/api/generate',
    chat({ options: { num_predict: [] } }),
    400,
    'invalid_request',
  ],
  [
    'unknown model',
    '/v1/chat/completions',
    chat({ model: 'no-such-model' }),
    404,
    'model_not_found',
  ],
  ['unknown model (Ollama)', '/api/chat', chat({ model: 'no-such-model' }), 404, 'model_not_found'],
  [
    '5 MiB body',
    '/v1/chat/completions',
    chat({ pad: 'x'.repeat(5 * 1024 * 1024) }),
    413,
    'payload_too_large',
  ],
  [
    '2 MiB registration',
    '/v1/agents/register',
    `{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`,
    413,
    'payload_too_large',
  ],
  [
    'register with wrong types',
    '/v1/agents/register',
    '{"id":"a b","url":"ftp://x"}',
    400,
    'invalid_request',
  ],
];

describe('bad input on the control plane', () => {
  let app: ReturnType<typeof createApp>;

  beforeEach(async () => {
    app = createApp(await makeDeps(openSqlite(':memory:').store, fakeClock()));
    const reg = await app.request('/v1/agents/register', {
      method: 'POST',
      headers: { authorization: `Bearer ${JOIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(registration('agent-a')),
    });
    expect(reg.status).toBe(200);
  });

  for (const [name, path, body, status, code] of CASES) {
    it(`${path}: ${name} -> ${status}`, async () => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (path.startsWith('/v1/agents')) headers.authorization = `Bearer ${JOIN_TOKEN}`;
      const res = await app.request(path, { method: 'POST', headers, body });
      expect(res.status).toBe(status);
      const json = (await res.json()) as { error: { code: string; message: string } | string };
      if (path.startsWith('/api/')) {
        expect(typeof json.error).toBe('string');
      } else {
        expect(json.error).toMatchObject({ code });
      }
      // No slot was reserved for a refused request.
      const status_ = (await (await app.request('/v1/status')).json()) as {
        agents: { slots: { reserved: number } }[];
      };
      expect(status_.agents[0]?.slots.reserved).toBe(0);
    });
  }

  it('answers unknown paths and methods with shaped 404s', async () => {
    const res = await app.request('/v1/nope', { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
    expect(await (await app.request('/api/nope')).json()).toEqual({
      error: 'No route for GET /api/nope',
    });
  });
});
