// Ollama-compatible agent routes: NDJSON streams ending in done:true, JSON bodies, error shape.
import { describe, expect, it } from 'vitest';
import { MODEL, makeAgent, parseNDJSON, post } from './helpers.ts';

const chat = (extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  messages: [{ role: 'user', content: 'hi there' }],
  ...extra,
});

describe('POST /api/chat', () => {
  it('streams NDJSON by default and ends with done:true and counts', async () => {
    const agent = await makeAgent();
    const res = await post(agent, '/api/chat', chat(), await agent.ticket());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = parseNDJSON(await res.text());
    const parts = lines.slice(0, -1);
    for (const part of parts) {
      expect(part).toMatchObject({ model: MODEL, done: false, message: { role: 'assistant' } });
      expect(Number.isNaN(Date.parse(String(part.created_at)))).toBe(false);
    }
    expect(parts.map((p) => (p.message as { content: string }).content).join('')).toBe(
      'Hello, world!',
    );
    const last = lines.at(-1);
    expect(last).toMatchObject({
      model: MODEL,
      done: true,
      done_reason: 'stop',
      message: { role: 'assistant', content: '' },
      prompt_eval_count: 2,
      eval_count: 4,
    });
    for (const key of ['total_duration', 'prompt_eval_duration', 'eval_duration']) {
      expect(Number.isInteger(last?.[key])).toBe(true);
    }
    expect(agent.reports[0]?.report.outcome).toBe('success');
  });

  it('maps options and returns one JSON object when stream is false', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/api/chat',
      chat({
        stream: false,
        options: { num_predict: 3, temperature: 0, top_k: 20, top_p: 0.8, seed: 1, stop: ['x'] },
      }),
      await agent.ticket(),
    );
    const body = await res.json();
    expect(body).toMatchObject({
      done: true,
      done_reason: 'length',
      message: { role: 'assistant', content: 'Hello, world' },
      eval_count: 3,
    });
    expect(agent.engine.requests[0]).toMatchObject({
      maxTokens: 3,
      temperature: 0,
      topK: 20,
      topP: 0.8,
      seed: 1,
      stop: ['x'],
    });
  });

  it("treats num_predict -1 as unlimited: as many as the ticket's max_tokens", async () => {
    const agent = await makeAgent();
    const ticket = await agent.ticket({ maxTokens: 300 });
    await post(agent, '/api/chat', chat({ options: { num_predict: -1 } }), ticket);
    expect(agent.engine.requests[0]?.maxTokens).toBe(300);
  });

  it('answers an empty message list as a model load without running the engine', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/api/chat',
      { model: MODEL, messages: [] },
      await agent.ticket(),
    );
    expect(await res.json()).toMatchObject({ done: true, done_reason: 'load' });
    expect(agent.engine.requests).toHaveLength(0);
    expect(agent.reports[0]?.report.outcome).toBe('success');
    expect(agent.jobs.active).toBe(0);
  });

  it('uses the Ollama error shape', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/api/chat',
      { model: MODEL, messages: 'x' },
      await agent.ticket(),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['error']);
    expect(typeof body.error).toBe('string');
    const unauth = await post(agent, '/api/chat', chat(), undefined);
    expect(unauth.status).toBe(401);
    expect(await unauth.json()).toEqual({ error: 'this endpoint requires a ticket' });
  });
});

describe('POST /api/generate', () => {
  it('applies the chat template (system + prompt) unless raw', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/api/generate',
      { model: MODEL, prompt: 'why?', system: 'be short' },
      await agent.ticket(),
    );
    const lines = parseNDJSON(await res.text());
    expect(
      lines
        .slice(0, -1)
        .map((l) => l.response)
        .join(''),
    ).toBe('Hello, world!');
    expect(lines.at(-1)).toMatchObject({ done: true, response: '', eval_count: 4 });
    expect(agent.engine.requests[0]?.messages).toEqual([
      { role: 'system', content: 'be short' },
      { role: 'user', content: 'why?' },
    ]);
  });

  it('sends the raw prompt when raw is true, as one JSON object when not streaming', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/api/generate',
      { model: MODEL, prompt: 'abc', raw: true, stream: false },
      await agent.ticket(),
    );
    expect(await res.json()).toMatchObject({ response: 'Hello, world!', done: true });
    expect(agent.engine.requests[0]).toMatchObject({ prompt: 'abc' });
  });
});

describe('GET /api/tags', () => {
  it('lists models without a ticket', async () => {
    const agent = await makeAgent();
    const res = await agent.app.request('/api/tags');
    expect(await res.json()).toMatchObject({ models: [{ name: MODEL, model: MODEL }] });
  });
});
