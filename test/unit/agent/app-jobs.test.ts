// Job lifecycle on the agent: capacity (429), client disconnects, mid-stream errors, draining.
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../agent/engines/engine.ts';
import {
  chatBody,
  MODEL,
  makeAgent,
  parseNDJSON,
  parseSSE,
  post,
  type TestAgent,
  until,
} from './helpers.ts';

const slowTokens = { tokens: Array.from({ length: 200 }, (_, i) => `t${i} `), delayMs: 10 };

async function readSome(res: Response): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no body');
  const first = await reader.read();
  expect(first.done).toBe(false);
  return reader;
}

async function startStream(agent: TestAgent, signal?: AbortSignal) {
  const res = await post(
    agent,
    '/v1/chat/completions',
    chatBody({ stream: true }),
    await agent.ticket(),
    signal ? { signal } : {},
  );
  expect(res.status).toBe(200);
  return readSome(res);
}

describe('capacity', () => {
  it('answers 429 with Retry-After beyond MAX_CONCURRENT_JOBS and reports the refusal', async () => {
    const agent = await makeAgent({ engine: slowTokens, maxConcurrentJobs: 1 });
    const reader = await startStream(agent);
    expect(agent.jobs.active).toBe(1);

    const busy = await post(agent, '/v1/chat/completions', chatBody(), await agent.ticket());
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(await busy.json()).toMatchObject({
      error: { type: 'rate_limit_error', code: 'agent_busy', param: null },
    });
    expect(agent.reports.map((r) => r.report.outcome)).toEqual(['rejected']);

    const status = (await (await agent.app.request('/v1/agent/status')).json()) as {
      runningJobs: unknown[];
    };
    expect(status).toMatchObject({ activeJobs: 1, maxConcurrentJobs: 1, engine: 'fake' });
    // Public: which models run and for how long, never which tickets.
    expect(status.runningJobs).toEqual([{ model: MODEL, ageMs: expect.any(Number) }]);
    expect(JSON.stringify(status)).not.toContain(agent.jobs.jobs()[0]?.jti ?? 'no job');

    await reader.cancel();
    await until(() => agent.jobs.active === 0);
    const ok = await post(
      agent,
      '/v1/completions',
      { model: MODEL, prompt: 'x', max_tokens: 1 },
      await agent.ticket(),
    );
    expect(ok.status).toBe(200);
  });
});

describe('admission confirmed by the control plane', () => {
  it('stops a job whose ticket the control plane refuses with 409, freeing the slot', async () => {
    const asked: string[] = [];
    const agent = await makeAgent({
      engine: slowTokens,
      maxConcurrentJobs: 1,
      confirmAdmission: async (jti) => {
        asked.push(jti);
        return 'refused';
      },
    });
    const ticket = await agent.ticket();
    const res = await post(agent, '/v1/chat/completions', chatBody({ stream: true }), ticket);
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: 'ticket_refused' } });
    expect(asked).toHaveLength(1);
    expect(agent.jobs.active).toBe(0);
    // The engine started alongside the question and was stopped by the answer.
    expect(agent.engine.active).toBe(0);
    expect(agent.engine.aborted).toBe(1);
    expect(agent.reports.map((r) => r.report)).toMatchObject([
      { outcome: 'rejected', completionTokens: 0, error: expect.stringContaining('refused') },
    ]);
  });

  it('refuses an Ollama load-only request (no messages) the same way', async () => {
    const agent = await makeAgent({ confirmAdmission: async () => 'refused' });
    const res = await post(
      agent,
      '/api/chat',
      { model: MODEL, messages: [] },
      await agent.ticket(),
    );
    expect(res.status).toBe(409);
    expect(agent.jobs.active).toBe(0);
    expect(agent.reports.map((r) => r.report.outcome)).toEqual(['rejected']);
  });

  it('asks while the engine starts: the first chunk leaves only once the answer is in', async () => {
    let answer: (a: 'admitted') => void = () => {};
    const agent = await makeAgent({
      confirmAdmission: () =>
        new Promise((resolve) => {
          answer = resolve;
        }),
    });
    const pending = post(agent, '/v1/chat/completions', chatBody(), await agent.ticket());
    // The engine has the request (and may be done) before the control plane has answered.
    await until(() => agent.engine.requests.length === 1);
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    answer('admitted');
    const res = await pending;
    expect(res.status).toBe(200);
    expect(agent.reports.map((r) => r.report.outcome)).toEqual(['success']);
  });

  it('runs a job the control plane confirms or does not answer for', async () => {
    for (const verdict of ['admitted', 'unconfirmed'] as const) {
      const agent = await makeAgent({ confirmAdmission: async () => verdict });
      const res = await post(agent, '/v1/chat/completions', chatBody(), await agent.ticket());
      expect(res.status).toBe(200);
      expect(agent.reports.map((r) => r.report.outcome)).toEqual(['success']);
    }
  });
});

describe('settling before the final chunk', () => {
  it('frees the slot and delivers the report before [DONE] leaves', async () => {
    let deliver = () => {};
    const delivered = new Promise<void>((resolve) => {
      deliver = resolve;
    });
    const agent = await makeAgent({
      engine: { tokens: ['a ', 'b ', 'c '] },
      maxConcurrentJobs: 1,
      onReport: () => delivered,
    });
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ stream: true }),
      await agent.ticket(),
    );
    expect(res.status).toBe(200);
    let text = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const part of res.body ?? []) text += decoder.decode(part, { stream: true });
    })();
    await until(() => agent.reports.length === 1);
    expect(agent.reports[0]?.report.outcome).toBe('success');
    expect(agent.jobs.active).toBe(0);
    // The report is not delivered yet: the final chunk is held back.
    expect(text).not.toContain('[DONE]');
    expect(text).not.toContain('"finish_reason":"stop"');
    deliver();
    await reading;
    expect(parseSSE(text).at(-1)).toBe('[DONE]');
  });
});

describe('client disconnect', () => {
  it('aborts the generation, frees the slot and reports cancelled (SSE)', async () => {
    const agent = await makeAgent({ engine: slowTokens, maxConcurrentJobs: 1 });
    const client = new AbortController();
    const reader = await startStream(agent, client.signal);
    client.abort();
    await reader.cancel().catch(() => undefined);
    await until(() => agent.jobs.active === 0 && agent.reports.length === 1);
    expect(agent.engine.aborted).toBe(1);
    expect(agent.engine.active).toBe(0);
    const report = agent.reports[0]?.report;
    expect(report?.outcome).toBe('cancelled');
    expect(report?.completionTokens).toBeLessThan(200);
  });

  it('frees the slot when only the response body is cancelled (NDJSON)', async () => {
    const agent = await makeAgent({ engine: slowTokens, maxConcurrentJobs: 1 });
    const res = await post(agent, '/api/chat', chatBody(), await agent.ticket());
    const reader = await readSome(res);
    await reader.cancel();
    await until(() => agent.jobs.active === 0 && agent.reports.length === 1);
    expect(agent.reports[0]?.report.outcome).toBe('cancelled');
    expect(agent.engine.aborted).toBe(1);
  });

  it('cancels a non-streaming request whose client goes away', async () => {
    const agent = await makeAgent({ engine: slowTokens });
    const client = new AbortController();
    const pending = post(agent, '/v1/chat/completions', chatBody(), await agent.ticket(), {
      signal: client.signal,
    });
    await until(() => agent.engine.active === 1);
    client.abort();
    await pending.catch(() => undefined);
    await until(() => agent.reports.length === 1);
    expect(agent.reports[0]?.report.outcome).toBe('cancelled');
    expect(agent.jobs.active).toBe(0);
  });
});

describe('engine overloaded before the first token', () => {
  it("answers 503 engine_unavailable (Ollama's full queue) and reports it as a failure", async () => {
    const agent = await makeAgent({
      engine: { failBeforeStart: new EngineError('engine_unavailable', 'Ollama is busy: 503') },
    });
    const res = await post(agent, '/v1/chat/completions', chatBody(), await agent.ticket());
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'engine_unavailable' } });
    // Counted by the agent's breaker like Envoy's consecutive 5xx: overload sheds traffic.
    expect(agent.reports[0]?.report).toMatchObject({ outcome: 'error' });
    expect(agent.jobs.active).toBe(0);
  });
});

describe('engine failure after streaming started', () => {
  it('ends an SSE stream with an explicit error event and no [DONE]', async () => {
    const agent = await makeAgent({ engine: { failAfterTokens: 2 } });
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ stream: true }),
      await agent.ticket(),
    );
    expect(res.status).toBe(200);
    const events = parseSSE(await res.text());
    expect(events).not.toContain('[DONE]');
    expect(events.at(-1)).toEqual({
      error: {
        message: 'fake engine failure',
        type: 'server_error',
        code: 'engine_failure',
        param: null,
      },
    });
    expect(events).toHaveLength(4); // role chunk, two tokens, error
    expect(agent.reports[0]?.report).toMatchObject({
      outcome: 'error',
      completionTokens: 2,
      error: 'fake engine failure',
    });
    expect(agent.jobs.active).toBe(0);
  });

  it('ends an NDJSON stream with an {"error"} line and no done:true', async () => {
    const agent = await makeAgent({ engine: { failAfterTokens: 1 } });
    const res = await post(
      agent,
      '/api/generate',
      { model: MODEL, prompt: 'x' },
      await agent.ticket(),
    );
    const lines = parseNDJSON(await res.text());
    expect(lines.at(-1)).toEqual({ error: 'fake engine failure' });
    expect(lines.some((l) => l.done === true)).toBe(false);
  });

  it('treats a stream that ends without done as an error, never a silent truncation', async () => {
    const agent = await makeAgent({ engine: { omitDone: true } });
    const res = await post(
      agent,
      '/v1/completions',
      { model: MODEL, prompt: 'x', stream: true },
      await agent.ticket(),
    );
    const events = parseSSE(await res.text());
    expect(events.at(-1)).toMatchObject({ error: { code: 'stream_incomplete' } });
    expect(agent.reports[0]?.report.outcome).toBe('error');

    const plain = await post(agent, '/api/chat', chatBody({ stream: false }), await agent.ticket());
    expect(plain.status).toBe(500);
    expect(await plain.json()).toMatchObject({ error: expect.stringContaining('final message') });
  });
});

describe('draining', () => {
  it('refuses new jobs with 503 and reports unhealthy while in-flight ones finish', async () => {
    const agent = await makeAgent({
      engine: { tokens: slowTokens.tokens.slice(0, 20), delayMs: 5 },
    });
    const reader = await startStream(agent);
    agent.jobs.draining = true;
    const res = await post(agent, '/v1/chat/completions', chatBody(), await agent.ticket());
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'agent_draining' } });
    expect((await agent.app.request('/healthz')).status).toBe(503);
    expect(agent.jobs.active).toBe(1);
    const idle = agent.jobs.waitIdle(5000);
    while (!(await reader.read()).done) {}
    expect(await idle).toBe(true);
    expect(agent.reports.map((r) => r.report.outcome).sort()).toEqual(['rejected', 'success']);
  });
});
