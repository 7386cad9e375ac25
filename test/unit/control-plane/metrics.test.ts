// GET /metrics on the Node control plane: agent and breaker states from the database, the core's
// events (decisions, exclusions, leases, breaker transitions, job reports, heartbeats), request
// counts by route pattern; METRICS_TOKEN required, never a client API key.
import { describe, expect, it } from 'vitest';
import { jtiOf } from '../../../client/wire.ts';
import { createApiKey } from '../../../control-plane/core/api-keys.ts';
import { createApp } from '../../../control-plane/core/app.ts';
import { createMetrics } from '../../../control-plane/node/metrics.ts';
import { openSqlite } from '../../../control-plane/node/sqlite.ts';
import {
  fakeClock,
  heartbeat,
  JOIN_TOKEN,
  MODEL,
  makeDeps,
  registration,
} from '../../contract/fixtures.ts';

const json = { 'content-type': 'application/json' };

async function setup(env: Record<string, string> = {}) {
  const { store } = openSqlite(':memory:');
  const clock = fakeClock();
  const deps = await makeDeps(store, clock, { BREAKER_FAILURES: '2', ...env });
  const metrics = createMetrics(deps);
  const app = createApp({ ...deps, metrics, events: metrics.events });
  const credentials = new Map<string, string>();
  for (const id of ['agent-a', 'agent-b']) {
    const res = await app.request('/v1/agents/register', {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${JOIN_TOKEN}` },
      body: JSON.stringify(registration(id)),
    });
    expect(res.status).toBe(200);
    credentials.set(id, ((await res.json()) as { credential: string }).credential);
  }
  return { app, deps, clock, credentials };
}

/** The value of one sample line, e.g. `titan_agents{state="healthy"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics', () => {
  it('shows agent health, breaker states and route requests', async () => {
    const { app, credentials } = await setup();
    // Two failures agent-a reports for its tickets open its breaker (BREAKER_FAILURES=2).
    for (let i = 0; i < 2; i++) {
      const r = await app.request('/v1/route', {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ model: MODEL, exclude: ['agent-b'] }),
      });
      const { ticket, agent } = (await r.json()) as { ticket: string; agent: { id: string } };
      expect(agent.id).toBe('agent-a');
      const jti = jtiOf(ticket);
      const f = await app.request(`/v1/agents/agent-a/jobs/${jti}`, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${credentials.get('agent-a')}` },
        body: JSON.stringify({
          outcome: 'error',
          model: MODEL,
          promptTokens: 0,
          completionTokens: 0,
          durationMs: 1,
        }),
      });
      expect(f.status).toBe(200);
    }
    const res = await app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(sample(text, 'titan_agents{state="healthy"}')).toBe(2);
    expect(sample(text, 'titan_agents{state="offline"}')).toBe(0);
    expect(sample(text, 'titan_agent_breaker_state{agent="agent-a",state="open"}')).toBe(1);
    expect(sample(text, 'titan_agent_breaker_state{agent="agent-a",state="closed"}')).toBe(0);
    expect(sample(text, 'titan_agent_breaker_state{agent="agent-b",state="closed"}')).toBe(1);
    expect(sample(text, 'titan_agent_breaker_trips{agent="agent-a"}')).toBe(1);
    expect(sample(text, 'titan_agent_slots{agent="agent-b",kind="max"}')).toBe(4);
    expect(
      sample(text, 'titan_http_requests_total{method="POST",route="/v1/route",status="200"}'),
    ).toBe(2);
    expect(text).toContain('process_cpu_seconds_total');
    // The core's events: two decisions routed, two leases taken and released by error reports.
    expect(sample(text, 'titan_scheduler_decisions_total{policy="mcda",outcome="routed"}')).toBe(2);
    expect(sample(text, 'titan_leases_total{change="taken"}')).toBe(2);
    expect(sample(text, 'titan_leases_total{change="released"}')).toBe(2);
    expect(sample(text, `titan_jobs_total{agent="agent-a",model="${MODEL}",outcome="error"}`)).toBe(
      2,
    );
    expect(
      sample(text, 'titan_breaker_transitions_total{agent="agent-a",from="closed",to="open"}'),
    ).toBe(1);
    expect(sample(text, 'titan_agent_heartbeat_lag_seconds{agent="agent-a"}')).toBe(0);

    // agent-a's open breaker now excludes it; agent-b takes the request and reports a success.
    const r = await app.request('/v1/route', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ model: MODEL }),
    });
    const { ticket, agent } = (await r.json()) as { ticket: string; agent: { id: string } };
    expect(agent.id).toBe('agent-b');
    await app.request(`/v1/agents/agent-b/jobs/${jtiOf(ticket)}`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${credentials.get('agent-b')}` },
      body: JSON.stringify({
        outcome: 'success',
        model: MODEL,
        promptTokens: 7,
        completionTokens: 5,
        ttftMs: 40,
        durationMs: 300,
      }),
    });
    const after = await (await app.request('/metrics')).text();
    expect(sample(after, 'titan_scheduler_exclusions_total{filter="breaker"}')).toBe(1);
    expect(sample(after, `titan_job_tokens_total{model="${MODEL}",direction="out"}`)).toBe(5);
    expect(sample(after, `titan_job_ttft_seconds_count{model="${MODEL}"}`)).toBe(1);
    expect(sample(after, `titan_job_ttft_seconds_bucket{le="0.05",model="${MODEL}"}`)).toBe(1);
  });

  it('counts heartbeats and measures the lag since the last one', async () => {
    const { app, clock, credentials } = await setup();
    const beat = () =>
      app.request('/v1/agents/agent-a/heartbeat', {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${credentials.get('agent-a')}` },
        body: JSON.stringify(heartbeat()),
      });
    expect((await beat()).status).toBe(200);
    clock.advance(2000);
    expect((await beat()).status).toBe(200);
    clock.advance(3000);
    const text = await (await app.request('/metrics')).text();
    expect(sample(text, 'titan_heartbeats_total{written="none"}')).toBe(2);
    expect(sample(text, 'titan_heartbeat_interval_seconds_count')).toBe(1);
    expect(sample(text, 'titan_heartbeat_interval_seconds_bucket{le="2"}')).toBe(1);
    expect(sample(text, 'titan_agent_heartbeat_lag_seconds{agent="agent-a"}')).toBe(3);
    expect(sample(text, 'titan_agent_heartbeat_lag_seconds{agent="agent-b"}')).toBe(5);
  });

  it('an agent silent for HEARTBEAT_TIMEOUT counts as offline', async () => {
    const { app, deps, clock } = await setup();
    clock.advance(deps.config.heartbeatTimeoutMs + deps.config.livenessWriteIntervalMs);
    const text = await (await app.request('/metrics')).text();
    expect(sample(text, 'titan_agents{state="healthy"}')).toBe(0);
    expect(sample(text, 'titan_agent_state{agent="agent-a",state="offline"}')).toBe(1);
  });

  it('needs METRICS_TOKEN, never a client API key', async () => {
    const { app, deps } = await setup({ AUTH_MODE: 'keys', METRICS_TOKEN: 'scrape-token-1234' });
    expect((await app.request('/metrics')).status).toBe(401);
    const { key } = await createApiKey(deps.store.keys, { name: 'prometheus' }, deps.clock.now());
    const withKey = await app.request('/metrics', { headers: { authorization: `Bearer ${key}` } });
    expect(withKey.status).toBe(401);
    const res = await app.request('/metrics', {
      headers: { authorization: 'Bearer scrape-token-1234' },
    });
    expect(res.status).toBe(200);
  });

  it('is off without METRICS_TOKEN, except in development mode', async () => {
    const keys = await setup({ AUTH_MODE: 'keys' });
    const off = await keys.app.request('/metrics');
    expect(off.status).toBe(403);
    expect(await off.text()).toContain('METRICS_TOKEN');
    const dev = await setup({ AUTH_MODE: 'development' });
    expect((await dev.app.request('/metrics')).status).toBe(200);
  });
});
