// Prometheus metrics of the Node control plane (GET /metrics, prom-client): agent health and
// breaker states read from the database at scrape time, HTTP requests counted in process, and
// prom-client's default process metrics. Workers use Cloudflare's analytics instead.
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { effectiveState } from '../core/breakers/health.ts';
import { fieldsOf, phaseOf } from '../core/breakers/policy.ts';
import type { Deps, MetricsPort } from '../core/deps.ts';

const AGENT_STATES = ['healthy', 'degraded', 'offline', 'draining'] as const;
const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

export function createMetrics(deps: Pick<Deps, 'store' | 'clock' | 'config'>): MetricsPort {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const g = (name: string, help: string, labelNames: string[]) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const byState = g('titan_agents', 'Registered agents by health state', ['state']);
  const agentState = g('titan_agent_state', 'Health state of each agent (1 = current)', [
    'agent',
    'state',
  ]);
  const breakerState = g('titan_agent_breaker_state', 'Circuit breaker state (1 = current)', [
    'agent',
    'state',
  ]);
  const trips = g('titan_agent_breaker_trips', 'Consecutive breaker trips (backoff exponent)', [
    'agent',
  ]);
  const failures = g('titan_agent_breaker_failures', 'Consecutive failures counted', ['agent']);
  const slots = g('titan_agent_slots', 'Job slots: reserved by tickets, or the maximum', [
    'agent',
    'kind',
  ]);
  const requests = new Counter({
    name: 'titan_http_requests_total',
    help: 'HTTP requests answered, by route pattern and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'titan_http_request_duration_seconds',
    help: 'Time to answer an HTTP request (a route decision, a redirect, a heartbeat)',
    labelNames: ['method', 'route'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  /** Sets the agent gauges from the database: one read per scrape. */
  async function refresh() {
    const now = deps.clock.now();
    const [rows, leases] = await Promise.all([
      deps.store.agents.list(),
      deps.store.tickets.leaseCounts(now),
    ]);
    for (const m of [byState, agentState, breakerState, trips, failures, slots]) m.reset();
    for (const s of AGENT_STATES) byState.set({ state: s }, 0);
    for (const a of rows) {
      const state = effectiveState(a, now, deps.config);
      byState.inc({ state });
      for (const s of AGENT_STATES) agentState.set({ agent: a.id, state: s }, s === state ? 1 : 0);
      const fields = fieldsOf(a);
      const phase = phaseOf(fields, now);
      for (const s of BREAKER_STATES) {
        breakerState.set({ agent: a.id, state: s }, s === phase ? 1 : 0);
      }
      trips.set({ agent: a.id }, fields.trips);
      failures.set({ agent: a.id }, fields.failures);
      slots.set({ agent: a.id, kind: 'reserved' }, leases.get(a.id) ?? 0);
      slots.set({ agent: a.id, kind: 'max' }, a.maxJobs);
    }
  }

  const middleware: MiddlewareHandler = async (c, next) => {
    const started = performance.now();
    await next();
    // The matched pattern (e.g. /v1/agents/:id/heartbeat), never the raw path: bounded labels.
    const route = routePath(c, -1);
    duration.observe({ method: c.req.method, route }, (performance.now() - started) / 1000);
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
  };

  return {
    middleware,
    async render() {
      await refresh();
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
