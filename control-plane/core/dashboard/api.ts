// The dashboard's data (admin key, mounted under /admin/dashboard): the fleet, the latest route
// decisions, the latest requests and the last hour's activity, read through the storage
// interfaces, so the same answers come from SQLite (Node) and D1 (Workers).
import { Hono } from 'hono';
import { z } from 'zod';
import type { TicketRow } from '../../../schema/tables.ts';
import { effectiveState } from '../breakers/health.ts';
import { breakerStatus, fieldsOf } from '../breakers/policy.ts';
import type { AdminDeps } from '../deps.ts';
import { toSeries, windowEndingAt } from './series.ts';
import type {
  DecisionsResponse,
  FleetResponse,
  RequestRow,
  RequestsResponse,
  SeriesResponse,
} from './types.ts';

const SERIES_BUCKET_MS = 60_000;
const SERIES_BUCKETS = 60;
const limitQuery = z.coerce.number().int().min(1).max(200).default(50);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function requestRow(t: TicketRow): RequestRow {
  return {
    id: t.jti,
    agentId: t.agentId,
    model: t.model,
    client: t.client,
    state: t.state,
    issuedAt: new Date(t.issuedAt).toISOString(),
    admittedAt: iso(t.admittedAt),
    finishedAt: iso(t.finishedAt),
    ttftMs: t.ttftMs,
    durationMs: t.durationMs,
    promptTokens: t.promptTokens,
    completionTokens: t.completionTokens,
    error: t.error,
  };
}

export function dashboardApiRoutes(deps: AdminDeps) {
  const { store, clock, config } = deps;
  const app = new Hono();

  app.get('/fleet', async (c) => {
    const now = clock.now();
    const [rows, models, leased, confirmed] = await Promise.all([
      store.agents.list(),
      store.agents.models(),
      store.tickets.leaseCounts(now),
      store.tickets.confirmedCounts(),
    ]);
    const body: FleetResponse = {
      now: new Date(now).toISOString(),
      agents: rows
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((a) => {
          const breaker = breakerStatus(fieldsOf(a), now, config.breaker);
          return {
            id: a.id,
            url: a.url,
            state: a.drainedAt === null ? effectiveState(a, now, config) : 'drained',
            breaker: breaker.state,
            breakerFailures: breaker.consecutiveFailures,
            engine: a.engine,
            version: a.version,
            slots: {
              leased: leased.get(a.id) ?? 0,
              confirmed: confirmed.get(a.id) ?? 0,
              max: a.maxJobs,
            },
            models: models
              .filter((m) => m.agentId === a.id)
              .map((m) => ({
                name: m.model,
                loaded: m.loaded,
                quantization: m.quantization,
                memoryBytes: m.memoryBytes,
              })),
            tokensPerSecond: a.tokensPerSecond,
            memory: {
              accelerator: a.accelerator,
              freeBytes: a.memoryFreeBytes,
              totalBytes: a.memoryTotalBytes,
            },
            lastHeartbeatAt: new Date(a.lastHeartbeatAt).toISOString(),
            lastHeartbeatAgoMs: now - a.lastHeartbeatAt,
          };
        }),
    };
    return c.json(body);
  });

  app.get('/decisions', (c) => {
    const body: DecisionsResponse = {
      scope: 'this control-plane process (Workers: this isolate), in memory',
      decisions: [...(deps.scoreboard?.recent() ?? [])],
    };
    return c.json(body);
  });

  app.get('/requests', async (c) => {
    const limit = limitQuery.parse(c.req.query('limit'));
    const body: RequestsResponse = {
      requests: (await store.tickets.recent(limit)).map(requestRow),
    };
    return c.json(body);
  });

  app.get('/series', async (c) => {
    const now = clock.now();
    const window = windowEndingAt(now, SERIES_BUCKET_MS, SERIES_BUCKETS);
    const activity = await store.tickets.activity(window.since, window.bucketMs);
    const body: SeriesResponse = toSeries(window, activity, now);
    return c.json(body);
  });

  return app;
}
