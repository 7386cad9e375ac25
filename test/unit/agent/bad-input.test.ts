// Bad input against the agent: each case gets its status and error JSON, is reported `rejected`
// (never `error`), and leaves no slot taken; a client that never reads loses its stream.
import { connect } from 'node:net';
import { serve } from '@hono/node-server';
import { describe, expect, it } from 'vitest';
import { createAgentApp } from '../../../agent/app.ts';
import { EngineError } from '../../../agent/engines/engine.ts';
import { FakeEngine } from '../../../agent/engines/fake.ts';
import { JobTracker } from '../../../agent/jobs.ts';
import { createTicketVerifier } from '../../../agent/tickets.ts';
import type { JobReport } from '../../../protocol/agent-api.ts';
import {
  AGENT_ID,
  chatBody,
  ISSUER,
  localKeys,
  MODEL,
  makeAgent,
  makeSigningKey,
  post,
  signTicket,
  until,
} from './helpers.ts';

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

const OPENAI_CASES: [string, string | Uint8Array | Record<string, unknown>, number, string][] = [
  ['malformed JSON', '{"model": "fake-model", "messages": [', 400, 'invalid_json'],
  [
    'not UTF-8',
    new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    400,
    'invalid_json',
  ],
  [
    'deeply nested JSON',
    `{"model":"${MODEL}","messages":${nested(100_000)}}`,
    400,
    'invalid_request',
  ],
  ['messages not a list', chatBody({ messages: 'hi' }), 400, 'invalid_request'],
  ['model not a string', { ...chatBody(), model: 5 }, 400, 'invalid_request'],
  ['max_tokens zero', chatBody({ max_tokens: 0 }), 400, 'invalid_request'],
  ['max_tokens a string', chatBody({ max_tokens: 'ten' }), 400, 'invalid_request'],
  ['max_tokens fractional', chatBody({ max_tokens: 1.5 }), 400, 'invalid_request'],
  ['n = 9 (above MAX_CHOICES)', chatBody({ n: 9 }), 400, 'invalid_request'],
  ['top_logprobs 21', chatBody({ logprobs: true, top_logprobs: 21 }), 400, 'invalid_request'],
  ['top_logprobs alone', chatBody({ top_logprobs: 2 }), 400, 'invalid_request'],
  [
    '17 stop strings',
    chatBody({ stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }),
    400,
    'invalid_request',
  ],
  ['logit_bias out of range', chatBody({ logit_bias: { '42': 101 } }), 400, 'invalid_request'],
  ['logit_bias bad token id', chatBody({ logit_bias: { abc: 1 } }), 400, 'invalid_request'],
  ['temperature out of range', chatBody({ temperature: 9 }), 400, 'invalid_request'],
  ['max_tokens above the ticket', chatBody({ max_tokens: 257 }), 401, 'ticket_max_tokens_exceeded'],
  ['model other than the ticket', chatBody({ model: 'other' }), 401, 'ticket_model_mismatch'],
  [
    '9 MiB body',
    `{"model":"${MODEL}","x":"${'a'.repeat(9 * 1024 * 1024)}"}`,
    413,
    'payload_too_large',
  ],
];

async function expectRejected(
  agent: Awaited<ReturnType<typeof makeAgent>>,
  res: Response,
  name: string,
  status: number,
) {
  expect(res.status, name).toBe(status);
  await until(() => agent.reports.length > 0);
  expect(
    agent.reports.map((r) => r.report.outcome),
    name,
  ).toEqual(['rejected']);
  expect(agent.jobs.active, name).toBe(0);
}

describe('bad input on the agent', () => {
  for (const [name, body, status, code] of OPENAI_CASES) {
    it(`OpenAI: ${name} -> ${status} ${code}`, async () => {
      const agent = await makeAgent();
      const res = await post(agent, '/v1/chat/completions', body, await agent.ticket());
      const json = (await res.json()) as { error: { code: string; type: string; message: string } };
      expect(json.error.code, name).toBe(code);
      expect(json.error.message.length).toBeGreaterThan(0);
      await expectRejected(agent, res, name, status);
    });
  }

  it('Ollama paths answer the same failures with Ollama-shaped errors', async () => {
    for (const [body, status] of [
      ['{"model":', 400],
      [
        { model: MODEL, messages: [{ role: 'user', content: 'x' }], options: { num_predict: 'x' } },
        400,
      ],
      [{ model: MODEL, messages: [], options: { num_predict: 300 } }, 401],
      // Engines here take text only: images are refused, not passed on; tool calls only when
      // well formed, and only from the assistant.
      [{ model: MODEL, messages: [{ role: 'user', content: 'x', images: ['aGk='] }] }, 400],
      [{ model: MODEL, messages: [{ role: 'assistant', content: 'x', tool_calls: [{}] }] }, 400],
      [
        {
          model: MODEL,
          messages: [
            {
              role: 'user',
              content: 'x',
              tool_calls: [{ function: { name: 'f', arguments: {} } }],
            },
          ],
        },
        400,
      ],
    ] as const) {
      const agent = await makeAgent();
      const res = await post(agent, '/api/chat', body, await agent.ticket());
      const json = (await res.json()) as { error: unknown };
      expect(typeof json.error).toBe('string');
      await expectRejected(agent, res, JSON.stringify(body), status);
    }
  });

  it('Ollama chat messages reach the engine as role and content only', async () => {
    const agent = await makeAgent();
    const message = { role: 'user', content: 'hi', name: 'x', images: [], extra: { a: 1 } };
    const body = { model: MODEL, messages: [message], stream: false };
    const res = await post(agent, '/api/chat', body, await agent.ticket());
    expect(res.status).toBe(200);
    expect(agent.engine.requests[0]?.messages).toEqual([{ role: 'user', content: 'hi' }]);
  });

  it('an unknown model is a 404 model_not_found and a prompt over the context a 400 with counts', async () => {
    const unknown = await makeAgent();
    const ghost = await unknown.ticket({ model: 'ghost' });
    const res = await post(unknown, '/v1/chat/completions', chatBody({ model: 'ghost' }), ghost);
    expect(await res.clone().json()).toMatchObject({ error: { code: 'model_not_found' } });
    await expectRejected(unknown, res, 'unknown model', 404);

    const message = 'prompt is 5000 tokens; the context holds 2048';
    const long = await makeAgent({
      engine: { failBeforeStart: new EngineError('invalid_request', message) },
    });
    const tooLong = await post(long, '/v1/chat/completions', chatBody(), await long.ticket());
    expect(await tooLong.clone().json()).toMatchObject({
      error: { code: 'invalid_request', message },
    });
    await expectRejected(long, tooLong, 'prompt too long', 400);
  });

  it('clamps generation to the ticket when the request names no max_tokens', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody(),
      await agent.ticket({ maxTokens: 7 }),
    );
    expect(res.status).toBe(200);
    expect(agent.engine.requests[0]?.maxTokens).toBe(7);
  });
});

describe('a client that never reads its stream', () => {
  it('loses the stream after the stall timeout; the slot is freed and the job reported cancelled', async () => {
    const key = await makeSigningKey('stall');
    const big = 'x'.repeat(64 * 1024);
    const engine = new FakeEngine({
      models: [MODEL],
      tokens: Array.from({ length: 2000 }, () => big),
    });
    const jobs = new JobTracker(1);
    const reports: JobReport[] = [];
    const app = createAgentApp({
      engine,
      tickets: createTicketVerifier({
        audience: AGENT_ID,
        issuer: ISSUER,
        keys: localKeys(key),
        registeredAt: 0,
      }),
      reportJob: (_jti, report) => {
        reports.push(report);
      },
      config: { agentId: AGENT_ID, maxConcurrentJobs: 1, streamStallTimeoutMs: 200 },
      jobs,
    });
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    const port = (server.address() as { port: number }).port;
    const socket = connect(port, '127.0.0.1');
    try {
      const body = JSON.stringify(chatBody({ stream: true, max_tokens: 256 }));
      const ticket = await signTicket(key, { maxTokens: 256 });
      socket.write(
        `POST /v1/chat/completions?ticket=${ticket} HTTP/1.1\r\nHost: agent\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      socket.pause(); // never read a byte
      await until(() => reports.length === 1, 15_000);
      expect(reports[0]?.outcome).toBe('cancelled');
      expect(jobs.active).toBe(0);
      expect(engine.active).toBe(0);
    } finally {
      socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
