// The bounded wait queue in front of the agent's job slots: FIFO, bound → 429, abort, drain.
import { describe, expect, it } from 'vitest';
import { JobTracker } from '../../../../agent/jobs.ts';
import { chatBody, MODEL, makeAgent, parseSSE, post, until } from '../helpers.ts';

describe('JobTracker queue', () => {
  it('hands freed slots to waiters in arrival order and refuses beyond the bound', async () => {
    const jobs = new JobTracker(1, Date.now, 2);
    const first = await jobs.acquire('a', 'm');
    expect(first?.jti).toBe('a');
    const b = jobs.acquire('b', 'm');
    const c = jobs.acquire('c', 'm');
    expect(jobs.queued).toBe(2);
    expect(await jobs.acquire('d', 'm')).toBeUndefined();
    expect(jobs.tryAcquire('e', 'm')).toBeUndefined();
    if (!first) throw new Error('no slot');
    jobs.release(first);
    const gotB = await b;
    expect(gotB?.jti).toBe('b');
    expect(jobs.active).toBe(1);
    expect(jobs.queued).toBe(1);
    if (!gotB) throw new Error('no slot');
    jobs.release(gotB);
    expect((await c)?.jti).toBe('c');
    expect(jobs.queued).toBe(0);
  });

  it('drops a waiter whose client aborts, and every waiter when draining', async () => {
    const jobs = new JobTracker(1, Date.now, 4);
    await jobs.acquire('a', 'm');
    const client = new AbortController();
    const left = jobs.acquire('b', 'm', client.signal);
    const drained = jobs.acquire('c', 'm');
    client.abort();
    expect(await left).toBeUndefined();
    expect(jobs.queued).toBe(1);
    jobs.draining = true;
    expect(await drained).toBeUndefined();
    expect(jobs.queued).toBe(0);
    expect(await jobs.acquire('d', 'm')).toBeUndefined();
  });

  it('refuses at once with no queue (maxQueue 0)', async () => {
    const jobs = new JobTracker(1);
    await jobs.acquire('a', 'm');
    expect(await jobs.acquire('b', 'm')).toBeUndefined();
  });
});

describe('agent with a queue', () => {
  it('serves a queued request once a slot frees, and answers 429 past the bound', async () => {
    const tokens = Array.from({ length: 40 }, () => 'x');
    const agent = await makeAgent({
      engine: { tokens, delayMs: 25 },
      maxConcurrentJobs: 1,
      maxQueue: 1,
    });
    // Signed up front: RS256 signing is slow on a busy machine, the engine must still be running.
    const [t1, t2, t3] = await Promise.all([agent.ticket(), agent.ticket(), agent.ticket()]);
    const running = post(agent, '/v1/chat/completions', chatBody(), t1);
    await until(() => agent.jobs.active === 1);
    const queued = post(agent, '/v1/chat/completions', chatBody(), t2);
    await until(() => agent.jobs.queued === 1);
    const status = await (await agent.app.request('/v1/agent/status')).json();
    expect(status).toMatchObject({ activeJobs: 1, queuedJobs: 1 });
    const refused = await post(agent, '/v1/chat/completions', chatBody(), t3);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { code: 'agent_busy' } });

    for (const res of await Promise.all([running, queued])) {
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        choices: [{ message: { content: tokens.join('') } }],
      });
    }
    expect(agent.reports.map((r) => r.report.outcome).sort()).toEqual([
      'rejected',
      'success',
      'success',
    ]);
  }, 20_000);

  it('a queued client that goes away never runs and is reported rejected', async () => {
    const agent = await makeAgent({
      engine: { tokens: Array.from({ length: 40 }, () => 'y'), delayMs: 25 },
      maxConcurrentJobs: 1,
      maxQueue: 1,
    });
    const [first, ticket] = await Promise.all([agent.ticket(), agent.ticket()]);
    const running = post(
      agent,
      '/v1/completions',
      { model: MODEL, prompt: 'x', stream: true, max_tokens: 40 },
      first,
    );
    await until(() => agent.jobs.active === 1);
    const client = new AbortController();
    const queued = post(agent, '/v1/chat/completions', chatBody(), ticket, {
      signal: client.signal,
    }).catch(() => undefined);
    await until(() => agent.jobs.queued === 1);
    client.abort();
    await queued;
    await until(() => agent.jobs.queued === 0);
    expect(parseSSE(await (await running).text()).at(-1)).toBe('[DONE]');
    expect(agent.engine.requests).toHaveLength(1);
    await until(() => agent.reports.length === 2);
    expect(agent.reports.map((r) => r.report.outcome).sort()).toEqual(['rejected', 'success']);
  }, 20_000);
});
