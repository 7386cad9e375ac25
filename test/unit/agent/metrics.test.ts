// The agent's GET /metrics: TTFT and inter-token histograms, tokens, requests by outcome (refusals
// included), slots and queue read at scrape time; METRICS_TOKEN, or loopback clients only.
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../agent/engines/engine.ts';
import type { JobTracker } from '../../../agent/jobs.ts';
import { AgentMetrics } from '../../../agent/metrics.ts';
import { chatBody, MODEL, makeAgent, post } from './helpers.ts';

/** The value of one sample line, e.g. `titan_agent_slots{kind="max"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function withMetrics(options: Parameters<typeof makeAgent>[0] = {}) {
  let jobs: JobTracker | undefined;
  const metrics = new AgentMetrics({
    slots: () => ({
      active: jobs?.active ?? 0,
      max: jobs?.capacity ?? 0,
      queued: jobs?.queued ?? 0,
      draining: jobs?.draining ?? false,
    }),
    engineLoad: async () => ({ running: 1, waiting: 2, kvCacheUsage: 0.25 }),
  });
  return makeAgent({ metrics, metricsToken: 'scrape-token', ...options }).then((agent) => {
    jobs = agent.jobs;
    return agent;
  });
}

const scrape = async (agent: Awaited<ReturnType<typeof makeAgent>>, token = 'scrape-token') => {
  const res = await agent.app.request('/metrics', {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
};

describe('agent /metrics', () => {
  it('counts requests by outcome, tokens, TTFT and inter-token latency', async () => {
    const agent = await withMetrics({ engine: { tokens: ['a', 'b', 'c', 'd'] } });
    const before = await scrape(agent);
    expect(sample(before, 'titan_agent_slots{kind="max"}')).toBe(4);
    expect(sample(before, `titan_agent_ttft_seconds_count{model="${MODEL}"}`)).toBeUndefined();

    const ticket = await agent.ticket();
    expect((await post(agent, '/v1/chat/completions', chatBody(), ticket)).status).toBe(200);
    // The same ticket again: refused before it became a job, counted as rejected.
    expect((await post(agent, '/v1/chat/completions', chatBody(), ticket)).status).toBe(401);

    const text = await scrape(agent);
    expect(
      sample(text, `titan_agent_requests_total{model="${MODEL}",outcome="success",reason="stop"}`),
    ).toBe(1);
    expect(
      sample(
        text,
        `titan_agent_requests_total{model="${MODEL}",outcome="rejected",reason="ticket_replayed"}`,
      ),
    ).toBe(1);
    expect(sample(text, `titan_agent_tokens_total{model="${MODEL}",direction="out"}`)).toBe(4);
    expect(sample(text, `titan_agent_tokens_total{model="${MODEL}",direction="in"}`)).toBe(2);
    expect(sample(text, `titan_agent_ttft_seconds_count{model="${MODEL}"}`)).toBe(1);
    // Four tokens: three gaps between them.
    expect(sample(text, `titan_agent_inter_token_seconds_count{model="${MODEL}"}`)).toBe(3);
    expect(
      sample(
        text,
        `titan_agent_request_duration_seconds_count{model="${MODEL}",outcome="success"}`,
      ),
    ).toBe(1);
    expect(sample(text, 'titan_agent_queue_depth')).toBe(0);
    expect(sample(text, 'titan_agent_slots{kind="active"}')).toBe(0);
    expect(sample(text, 'titan_agent_engine_load{kind="waiting"}')).toBe(2);
    expect(sample(text, 'titan_agent_engine_load{kind="kv_cache_usage"}')).toBe(0.25);
    expect(text).toContain('process_cpu_seconds_total');
  });

  it('counts an engine failure as an error with its code', async () => {
    const agent = await withMetrics({
      engine: { failBeforeStart: new EngineError('engine_failure', 'boom') },
    });
    const res = await post(agent, '/v1/chat/completions', chatBody(), await agent.ticket());
    expect(res.status).toBeGreaterThanOrEqual(500);
    const text = await scrape(agent);
    expect(
      sample(
        text,
        `titan_agent_requests_total{model="${MODEL}",outcome="error",reason="engine_failure"}`,
      ),
    ).toBe(1);
  });

  it('needs METRICS_TOKEN when set', async () => {
    const agent = await withMetrics({ remoteAddress: () => '127.0.0.1' });
    expect((await agent.app.request('/metrics')).status).toBe(401);
    const wrong = await agent.app.request('/metrics', {
      headers: { authorization: 'Bearer not-the-token' },
    });
    expect(wrong.status).toBe(401);
    await scrape(agent);
  });

  it('without METRICS_TOKEN answers loopback clients only, never through a proxy', async () => {
    let peer = '127.0.0.1';
    const agent = await withMetrics({ metricsToken: '', remoteAddress: () => peer });
    expect((await agent.app.request('/metrics')).status).toBe(200);
    const proxied = await agent.app.request('/metrics', {
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    expect(proxied.status).toBe(403);
    peer = '10.0.0.7';
    expect((await agent.app.request('/metrics')).status).toBe(403);
  });

  it('is not served without metrics', async () => {
    const agent = await makeAgent();
    expect((await agent.app.request('/metrics')).status).toBe(404);
  });
});
