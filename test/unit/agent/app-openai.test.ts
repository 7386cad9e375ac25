// OpenAI-compatible agent routes: SSE chunk format, [DONE], usage, JSON bodies, 400/404 shapes.
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../agent/engines/engine.ts';
import { chatBody, MODEL, makeAgent, parseSSE, post } from './helpers.ts';

describe('POST /v1/chat/completions', () => {
  it('streams chat.completion.chunk events, a finish_reason, usage and [DONE]', async () => {
    const agent = await makeAgent();
    const ticket = await agent.ticket();
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ stream: true, stream_options: { include_usage: true } }),
      ticket,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = parseSSE(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1) as Record<string, unknown>[];
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ object: 'chat.completion.chunk', model: MODEL });
      expect(chunk.id).toMatch(/^chatcmpl-/);
      expect(typeof chunk.created).toBe('number');
    }
    expect(chunks[0]).toMatchObject({
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
      usage: null,
    });
    const text = chunks
      .flatMap((c) => c.choices as { delta: { content?: string } }[])
      .map((c) => c.delta.content ?? '')
      .join('');
    expect(text).toBe('Hello, world!');
    const finish = chunks.at(-2);
    expect(finish).toMatchObject({ choices: [{ delta: {}, finish_reason: 'stop' }] });
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 },
    });
    expect(agent.reports).toHaveLength(1);
    expect(agent.reports[0]?.report).toMatchObject({
      outcome: 'success',
      model: MODEL,
      promptTokens: 2,
      completionTokens: 4,
    });
    expect(agent.reports[0]?.report.ttftMs).toBeGreaterThanOrEqual(0);
    expect(agent.jobs.active).toBe(0);
    expect(agent.engine.active).toBe(0); // the engine's generator was closed, not left suspended
  });

  it('omits usage unless include_usage is set, and reports length when max_tokens cuts', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ stream: true, max_tokens: 2 }),
      await agent.ticket(),
    );
    const events = parseSSE(await res.text());
    const chunks = events.slice(0, -1) as Record<string, unknown>[];
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
    expect(chunks.at(-1)).toMatchObject({ choices: [{ finish_reason: 'length' }] });
    expect(agent.engine.requests[0]).toMatchObject({ maxTokens: 2 });
  });

  it('returns a chat.completion object when not streaming', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ temperature: 0.2, top_p: 0.5, seed: 7, stop: 'END' }),
      await agent.ticket(),
    );
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: MODEL,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello, world!' },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 },
    });
    expect(agent.engine.active).toBe(0);
    expect(agent.engine.requests[0]).toMatchObject({
      temperature: 0.2,
      topP: 0.5,
      seed: 7,
      stop: ['END'],
      messages: [{ role: 'user', content: 'say hello' }],
    });
  });

  it('maps developer messages and text parts', async () => {
    const agent = await makeAgent();
    await post(
      agent,
      '/v1/chat/completions',
      {
        model: MODEL,
        messages: [
          { role: 'developer', content: 'be brief' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'a' },
              { type: 'text', text: 'b' },
            ],
          },
        ],
      },
      await agent.ticket(),
    );
    expect(agent.engine.requests[0]?.messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'ab' },
    ]);
  });

  it('rejects an invalid body with 400 in OpenAI shape and reports it rejected', async () => {
    const agent = await makeAgent();
    const res = await post(agent, '/v1/chat/completions', { model: MODEL }, await agent.ticket());
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'invalid_request',
      param: 'messages',
    });
    expect(typeof body.error.message).toBe('string');
    expect(agent.reports[0]?.report.outcome).toBe('rejected');
    expect(agent.jobs.active).toBe(0);
  });

  it('rejects malformed JSON with 400 invalid_json', async () => {
    const agent = await makeAgent();
    const res = await post(agent, '/v1/chat/completions', '{nope', await agent.ticket());
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } });
  });

  it('rejects an oversized body with 413 and reports it rejected', async () => {
    const agent = await makeAgent();
    const huge = JSON.stringify(
      chatBody({ messages: [{ role: 'user', content: 'x'.repeat(9 << 20) }] }),
    );
    const res = await post(agent, '/v1/chat/completions', huge, await agent.ticket());
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    expect(agent.reports[0]?.report.outcome).toBe('rejected');
  });

  it('turns an engine failure before the first token into a 404/500 with no stream', async () => {
    const missing = await makeAgent({
      engine: { failBeforeStart: new EngineError('model_not_found', 'no such model') },
    });
    const res = await post(
      missing,
      '/v1/chat/completions',
      chatBody({ stream: true }),
      await missing.ticket(),
    );
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({
      error: { code: 'model_not_found', type: 'invalid_request_error', param: null },
    });
    expect(missing.reports[0]?.report.outcome).toBe('rejected');

    const broken = await makeAgent({
      engine: { failBeforeStart: new EngineError('engine_failure', 'boom') },
    });
    const res2 = await post(broken, '/v1/chat/completions', chatBody(), await broken.ticket());
    expect(res2.status).toBe(500);
    expect(await res2.json()).toMatchObject({ error: { type: 'server_error' } });
    expect(broken.reports[0]?.report).toMatchObject({ outcome: 'error', error: 'boom' });
    expect(broken.jobs.active).toBe(0);
  });
});

describe('POST /v1/completions', () => {
  it('streams text_completion chunks and [DONE]', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/completions',
      { model: MODEL, prompt: 'Once upon', stream: true, max_tokens: 50 },
      await agent.ticket(),
    );
    const events = parseSSE(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1) as { object: string; choices: { text: string }[] }[];
    expect(chunks.every((c) => c.object === 'text_completion')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.text).join('')).toBe('Hello, world!');
    expect(chunks.at(-1)).toMatchObject({ choices: [{ finish_reason: 'stop' }] });
    expect(agent.engine.requests[0]).toMatchObject({ prompt: 'Once upon', maxTokens: 50 });
  });

  it('returns a text_completion object and defaults max_tokens to 16', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/completions',
      { model: MODEL, prompt: ['Once'] },
      await agent.ticket(),
    );
    expect(await res.json()).toMatchObject({
      object: 'text_completion',
      choices: [{ text: 'Hello, world!', finish_reason: 'stop' }],
      usage: { completion_tokens: 4 },
    });
    expect(agent.engine.requests[0]).toMatchObject({ prompt: 'Once', maxTokens: 16 });
  });
});

describe('GET /v1/models', () => {
  it('lists the engine models without a ticket', async () => {
    const agent = await makeAgent();
    const res = await agent.app.request('/v1/models');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      object: 'list',
      data: [{ id: MODEL, object: 'model', owned_by: 'titancompute' }],
    });
  });

  it('answers unknown routes with 404 in the right shape', async () => {
    const agent = await makeAgent();
    const res = await agent.app.request('/v1/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'route_not_found' } });
    const res2 = await agent.app.request('/api/nope');
    expect(await res2.json()).toEqual({ error: 'no route for GET /api/nope' });
  });
});
