// Prometheus metrics of the Node control plane (GET /metrics behind METRICS_TOKEN, prom-client):
// agent health, breaker states, slots and heartbeat lag read from the database at scrape time;
// the core's events (decisions, exclusions, leases, breaker transitions, job reports, heartbeats)
// and HTTP requests counted in process; prom-client's default process metrics. Workers write the
// same events to Analytics Engine instead (worker/analytics.ts, docs/operations.md).
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { effectiveState } from '../core/breakers/health.ts';
import { fieldsOf, phaseOf } from '../core/breakers/policy.ts';
import type { Deps, MetricsPort } from '../core/deps.ts';
import type { ControlPlaneEvent, EventSink } from '../core/events.ts';

const AGENT_STATES = ['healthy', 'degraded', 'offline', 'draining'] as const;
const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/** Seconds buckets for time to first token and job durations (a CPU 135M model to a big GPU). */
const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Seconds between heartbeats: the interval is seconds, trouble is tens of seconds. */
const HEARTBEAT_BUCKETS = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300];

export function createMetrics(
  deps: Pick<Deps, 'store' | 'clock' | 'config'>,
): MetricsPort & { events: EventSink } {
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

  const c = (name: string, help: string, labelNames: string[]) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  const h = (name: string, help: string, labelNames: string[], buckets: number[]) =>
    new Histogram({ name, help, labelNames, buckets, registers: [registry] });
  const decisions = c('titan_scheduler_decisions_total', 'Route decisions by policy and outcome', [
    'policy',
    'outcome',
  ]);
  const exclusions = c(
    'titan_scheduler_exclusions_total',
    'Agents left out of route decisions, by the filter that excluded them',
    ['filter'],
  );
  const leases = c('titan_leases_total', 'Slot leases (tickets) by what happened to them', [
    'change',
  ]);
  const transitions = c('titan_breaker_transitions_total', 'Circuit breaker transitions', [
    'agent',
    'from',
    'to',
  ]);
  const jobs = c('titan_jobs_total', 'Jobs reported by agents, by outcome', [
    'agent',
    'model',
    'outcome',
  ]);
  const jobTokens = c(
    'titan_job_tokens_total',
    'Tokens in job reports (in: prompt, out: completion)',
    ['model', 'direction'],
  );
  const ttft = h(
    'titan_job_ttft_seconds',
    'Time to first token reported by agents',
    ['model'],
    LATENCY_BUCKETS,
  );
  const jobDuration = h(
    'titan_job_duration_seconds',
    'Job durations reported by agents',
    ['model', 'outcome'],
    LATENCY_BUCKETS,
  );
  const heartbeats = c(
    'titan_heartbeats_total',
    'Heartbeats received, by why they were written (none: coalesced away, ADR 0003)',
    ['written'],
  );
  const heartbeatInterval = h(
    'titan_heartbeat_interval_seconds',
    'Time between two heartbeats of an agent received by this process',
    [],
    HEARTBEAT_BUCKETS,
  );
  const heartbeatLag = g(
    'titan_agent_heartbeat_lag_seconds',
    "Since the agent's last heartbeat received by this process (else its last recorded one)",
    ['agent'],
  );
  /** The last heartbeat this process received from each agent. */
  const heardAt = new Map<string, number>();

  const events: EventSink = {
    emit(e: ControlPlaneEvent) {
      switch (e.type) {
        case 'decision':
          decisions.inc({ policy: e.policy, outcome: e.outcome });
          for (const [filter, n] of Object.entries(e.excludedBy)) exclusions.inc({ filter }, n);
          return;
        case 'lease':
          leases.inc({ change: e.change }, e.count);
          return;
        case 'breaker':
          transitions.inc({ agent: e.agent, from: e.from, to: e.to });
          return;
        case 'job':
          jobs.inc({ agent: e.agent, model: e.model, outcome: e.outcome });
          jobTokens.inc({ model: e.model, direction: 'in' }, e.tokensIn);
          jobTokens.inc({ model: e.model, direction: 'out' }, e.tokensOut);
          if (e.ttftMs !== undefined) ttft.observe({ model: e.model }, e.ttftMs / 1000);
          jobDuration.observe({ model: e.model, outcome: e.outcome }, e.durationMs / 1000);
          return;
        case 'heartbeat': {
          const now = deps.clock.now();
          heartbeats.inc({ written: e.written ?? 'none' });
          const last = heardAt.get(e.agent);
          if (last !== undefined) heartbeatInterval.observe((now - last) / 1000);
          heardAt.set(e.agent, now);
          return;
        }
      }
    },
  };

  /** Sets the agent gauges from the database: one read per scrape. */
  async function refresh() {
    const now = deps.clock.now();
    const [rows, leases] = await Promise.all([
      deps.store.agents.list(),
      deps.store.tickets.leaseCounts(now),
    ]);
    for (const m of [byState, agentState, breakerState, trips, failures, slots, heartbeatLag]) {
      m.reset();
    }
    const known = new Set(rows.map((a) => a.id));
    for (const id of heardAt.keys()) if (!known.has(id)) heardAt.delete(id);
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
      const heard = Math.max(heardAt.get(a.id) ?? 0, a.lastHeartbeatAt);
      heartbeatLag.set({ agent: a.id }, Math.max(0, now - heard) / 1000);
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
    events,
    middleware,
    async render() {
      await refresh();
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
