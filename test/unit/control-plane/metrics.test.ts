// GET /metrics on the Node control plane: agent and breaker states from the database, request
// counts by route pattern, API key required outside development mode.
import { describe, expect, it } from 'vitest';
import { jtiOf } from '../../../client/wire.ts';
import { createApiKey } from '../../../control-plane/core/api-keys.ts';
import { createApp } from '../../../control-plane/core/app.ts';
import { createMetrics } from '../../../control-plane/node/metrics.ts';
import { openSqlite } from '../../../control-plane/node/sqlite.ts';
import { fakeClock, JOIN_TOKEN, MODEL, makeDeps, registration } from '../../contract/fixtures.ts';

const json = { 'content-type': 'application/json' };

async function setup(env: Record<string, string> = {}) {
  const { store } = openSqlite(':memory:');
  const clock = fakeClock();
  const deps = await makeDeps(store, clock, { BREAKER_FAILURES: '2', ...env });
  const app = createApp({ ...deps, metrics: createMetrics(deps) });
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
  });

  it('an agent silent for HEARTBEAT_TIMEOUT counts as offline', async () => {
    const { app, deps, clock } = await setup();
    clock.advance(deps.config.heartbeatTimeoutMs + deps.config.livenessWriteIntervalMs);
    const text = await (await app.request('/metrics')).text();
    expect(sample(text, 'titan_agents{state="healthy"}')).toBe(0);
    expect(sample(text, 'titan_agent_state{agent="agent-a",state="offline"}')).toBe(1);
  });

  it('needs an API key unless in development mode', async () => {
    const { app, deps } = await setup({ AUTH_MODE: 'keys' });
    expect((await app.request('/metrics')).status).toBe(401);
    const { key } = await createApiKey(deps.store.keys, { name: 'prometheus' }, deps.clock.now());
    const res = await app.request('/metrics', { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
  });
});
