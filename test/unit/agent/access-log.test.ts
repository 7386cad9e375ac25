// One request id end to end on the agent: the ticket's jti in the response (header and OpenAI id),
// in the job report's reason, and in exactly one JSON access line per request, refusals included.
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../agent/engines/engine.ts';
import { chatBody, MODEL, makeAgent, parseNDJSON, post } from './helpers.ts';

const requestLines = (logs: Record<string, unknown>[]) => logs.filter((l) => l.msg === 'request');

describe('request id and access log', () => {
  it('answers with the ticket id and logs one access line when a request completes', async () => {
    const agent = await makeAgent();
    const ticket = await agent.ticket({ jti: 'req-ok-1', sub: 'key_abc' });
    const res = await post(agent, '/v1/chat/completions', chatBody(), ticket);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-ok-1');
    expect(((await res.json()) as { id: string }).id).toBe('chatcmpl-req-ok-1');
    const lines = requestLines(agent.logs);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      svc: 'agent',
      requestId: 'req-ok-1',
      keyId: 'key_abc',
      model: MODEL,
      dialect: 'openai',
      status: 200,
      outcome: 'success',
      reason: 'stop',
      tokensIn: 2,
      tokensOut: 4,
    });
    expect(Date.parse(String(lines[0]?.time))).not.toBeNaN();
    expect(lines[0]?.ttftMs).toBeGreaterThanOrEqual(0);
    expect(lines[0]?.durationMs).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(lines[0])).not.toContain(ticket);
    expect(agent.reports).toEqual([
      { jti: 'req-ok-1', report: expect.objectContaining({ outcome: 'success', reason: 'stop' }) },
    ]);
  });

  it('streams Ollama NDJSON with the header; the line says ollama and how it ended', async () => {
    const agent = await makeAgent();
    const ticket = await agent.ticket({ jti: 'req-nd-1' });
    const res = await post(
      agent,
      '/api/chat',
      { model: MODEL, messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 2 } },
      ticket,
    );
    expect(res.headers.get('x-request-id')).toBe('req-nd-1');
    expect(parseNDJSON(await res.text()).at(-1)).toMatchObject({ done_reason: 'length' });
    expect(requestLines(agent.logs)).toEqual([
      expect.objectContaining({
        requestId: 'req-nd-1',
        dialect: 'ollama',
        status: 200,
        outcome: 'success',
        reason: 'length',
        tokensOut: 2,
      }),
    ]);
  });

  it('logs a replayed ticket (401) under its request id, and reports nothing for it', async () => {
    const agent = await makeAgent();
    const ticket = await agent.ticket({ jti: 'req-replay-1' });
    expect((await post(agent, '/v1/chat/completions', chatBody(), ticket)).status).toBe(200);
    const again = await post(agent, '/v1/chat/completions', chatBody(), ticket);
    expect(again.status).toBe(401);
    expect(again.headers.get('x-request-id')).toBe('req-replay-1');
    const lines = requestLines(agent.logs);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({
      level: 'warn',
      requestId: 'req-replay-1',
      status: 401,
      outcome: 'rejected',
      reason: 'ticket_replayed',
    });
    expect(agent.reports).toHaveLength(1);
  });

  it('logs a missing or forged ticket with no request id', async () => {
    const agent = await makeAgent();
    expect((await post(agent, '/v1/chat/completions', chatBody(), undefined)).status).toBe(401);
    expect((await post(agent, '/api/chat', chatBody(), 'not.a.jwt')).status).toBe(401);
    const lines = requestLines(agent.logs);
    expect(lines.map((l) => [l.status, l.reason, l.dialect, l.requestId])).toEqual([
      [401, 'ticket_missing', 'openai', undefined],
      [401, 'ticket_invalid', 'ollama', undefined],
    ]);
    expect(agent.reports).toHaveLength(0);
  });

  it('a refusal after admission is logged and reported with its code', async () => {
    const agent = await makeAgent();
    const ticket = await agent.ticket({ jti: 'req-mismatch-1' });
    const res = await post(agent, '/v1/chat/completions', chatBody({ model: 'other' }), ticket);
    expect(res.status).toBe(401);
    expect(res.headers.get('x-request-id')).toBe('req-mismatch-1');
    expect(requestLines(agent.logs)).toEqual([
      expect.objectContaining({
        status: 401,
        outcome: 'rejected',
        reason: 'ticket_model_mismatch',
      }),
    ]);
    expect(agent.reports[0]?.report).toMatchObject({
      outcome: 'rejected',
      reason: 'ticket_model_mismatch',
    });
  });

  it('an engine failure: 500 before any answer, 200 once a stream is under way', async () => {
    const before = await makeAgent({
      engine: { failBeforeStart: new EngineError('engine_failure', 'boom') },
    });
    const failed = await post(before, '/v1/chat/completions', chatBody(), await before.ticket());
    expect(failed.status).toBe(500);
    expect(requestLines(before.logs)).toEqual([
      expect.objectContaining({
        level: 'warn',
        status: 500,
        outcome: 'error',
        reason: 'engine_failure',
      }),
    ]);

    const during = await makeAgent({ engine: { failAfterTokens: 1 } });
    const res = await post(
      during,
      '/v1/chat/completions',
      chatBody({ stream: true }),
      await during.ticket(),
    );
    expect(res.status).toBe(200);
    await res.text();
    expect(requestLines(during.logs)).toEqual([
      expect.objectContaining({ status: 200, outcome: 'error', reason: 'engine_failure' }),
    ]);
  });
});
