// Registry queries: agents, the models they serve, and their tickets (slot leases: leases.ts).
import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import type { AgentModel, AgentStats, EngineLoad, JobReport } from '../../protocol/agent-api.ts';
import { type AgentRow, agentModels, agents, tickets } from '../../schema/tables.ts';
import { breakerColumns, fieldsOf } from './breakers/store.ts';
import type { Db } from './db.ts';
import {
  type CoalescingPolicy,
  heartbeatWriteReason,
  sameMemory,
  schedulingMemory,
  type WriteReason,
} from './heartbeats.ts';
import { openLeasesOf, reconcileLeases } from './leases.ts';
import type { AgentView } from './scheduler/types.ts';

export const ROUTABLE_STATES = ['healthy', 'degraded'] as const;

export interface AgentRegistration {
  id: string;
  url: string;
  engine: string;
  version: string;
  maxJobs: number;
  models: AgentModel[];
  stats: AgentStats;
  location?: { latitude: number; longitude: number } | undefined;
}

export async function upsertAgent(db: Db, reg: AgentRegistration, now: number): Promise<void> {
  const row = {
    url: reg.url,
    engine: reg.engine,
    version: reg.version,
    maxJobs: reg.maxJobs,
    state: 'healthy',
    stats: JSON.stringify(reg.stats),
    ...schedulingMemory(reg.stats),
    latitude: reg.location?.latitude ?? null,
    longitude: reg.location?.longitude ?? null,
    lastHeartbeatAt: now,
    // Each registration is a new epoch: tickets carry it (`reg`), the agent refuses older ones.
    registeredAt: now,
    reportedJobs: 0,
  };
  await db
    .insert(agents)
    .values({ id: reg.id, ...row })
    .onConflictDoUpdate({ target: agents.id, set: row });
  // A registration is a fresh agent process (start, or restart after a crash): nothing runs
  // there, so the leases of the old process are released and those jobs are lost.
  await db
    .update(tickets)
    .set({ state: 'lost', finishedAt: now })
    .where(and(eq(tickets.agentId, reg.id), inArray(tickets.state, ['issued', 'running'])));
  await replaceModels(db, reg.id, reg.models);
}

/**
 * The agent's process died (its supervisor says so): offline at once, no slot reserved, its open
 * tickets lost, as a registration or the liveness sweep would do. Breakers are left alone: a
 * crash is not a failed request. Returns false when the agent was already offline (idempotent).
 */
export async function markAgentOffline(db: Db, id: string, now: number): Promise<boolean> {
  const changed = await db
    .update(agents)
    .set({ state: 'offline', reportedJobs: 0 })
    .where(and(eq(agents.id, id), ne(agents.state, 'offline')))
    .returning({ id: agents.id });
  await db
    .update(tickets)
    .set({ state: 'lost', finishedAt: now })
    .where(and(eq(tickets.agentId, id), inArray(tickets.state, ['issued', 'running'])));
  return changed.length === 1;
}

/** Rewrites an agent's model list only when it changed (memory within 5% counts as unchanged). */
export async function replaceModels(
  db: Db,
  agentId: string,
  models: AgentModel[],
): Promise<boolean> {
  const current = await db.select().from(agentModels).where(eq(agentModels.agentId, agentId));
  const byName = new Map(current.map((m) => [m.model, m]));
  const unchanged =
    current.length === models.length &&
    models.every((m) => {
      const c = byName.get(m.name);
      return c !== undefined && c.loaded === m.loaded && sameMemory(c.memoryBytes, m.memoryBytes);
    });
  if (unchanged) return false;
  await db.delete(agentModels).where(eq(agentModels.agentId, agentId));
  if (models.length > 0) {
    await db.insert(agentModels).values(
      models.map((m) => ({
        agentId,
        model: m.name,
        loaded: m.loaded,
        memoryBytes: m.memoryBytes === undefined ? null : Math.round(m.memoryBytes),
      })),
    );
  }
  return true;
}

export async function getAgent(db: Db, id: string): Promise<AgentRow | undefined> {
  const rows = await db.select().from(agents).where(eq(agents.id, id)).limit(1);
  return rows[0];
}

export interface HeartbeatUpdate {
  stats: AgentStats;
  /** The agent's queue and its engine's own load, kept with the stats for the status page. */
  load?: { queuedJobs?: number | undefined; engine?: EngineLoad | undefined };
  reportedJobs: number;
  runningJobs: string[];
  draining: boolean;
  rttMs: number | undefined;
}

/**
 * Records a heartbeat, writing only what changed (see heartbeats.ts). Returns null when the agent is
 * unknown (it must register again), else why the row was written (null: not written).
 */
export async function recordHeartbeat(
  db: Db,
  id: string,
  hb: HeartbeatUpdate,
  now: number,
  policy: CoalescingPolicy & { heartbeatIntervalMs: number },
): Promise<{ written: WriteReason; leasesChanged: boolean } | null> {
  const stored = await getAgent(db, id);
  if (!stored) return null;
  // An offline agent that heartbeats again is back; draining is the agent's own word.
  const state = hb.draining ? 'draining' : stored.state === 'degraded' ? 'degraded' : 'healthy';
  const memory = schedulingMemory(hb.stats);
  const rttMs = hb.rttMs ?? null;
  const written = heartbeatWriteReason(
    stored,
    { state, reportedJobs: hb.reportedJobs, rttMs, ...memory },
    now,
    policy,
  );
  if (written) {
    await db
      .update(agents)
      .set({
        stats: JSON.stringify(hb.load ? { ...hb.stats, load: hb.load } : hb.stats),
        ...memory,
        reportedJobs: hb.reportedJobs,
        lastHeartbeatAt: now,
        rttMs,
        // SQLite rewrites an index whose column is assigned, even to the same value: D1 bills it.
        ...(state !== stored.state ? { state } : {}),
      })
      .where(eq(agents.id, id));
  }
  // The agent's list of running jobs is the truth about its leases.
  const leases = await reconcileLeases(db, id, hb.runningJobs, now, policy.heartbeatIntervalMs);
  return { written, leasesChanged: leases.confirmed + leases.released > 0 };
}

/** Every agent that lists `model`, in any state, as the scheduler's view at `now`. */
export async function loadAgentViews(db: Db, model: string, now: number): Promise<AgentView[]> {
  // Only the columns the scheduler reads: the stats JSON stays in the database.
  const rows = await db
    .select({
      id: agents.id,
      url: agents.url,
      state: agents.state,
      lastHeartbeatAt: agents.lastHeartbeatAt,
      maxJobs: agents.maxJobs,
      reservedJobs: sql<number>`${openLeasesOf(sql`${agents.id}`, now)}`.mapWith(Number),
      accelerator: agents.accelerator,
      memoryFreeBytes: agents.memoryFreeBytes,
      memoryTotalBytes: agents.memoryTotalBytes,
      modelLoaded: agentModels.loaded,
      modelMemoryBytes: agentModels.memoryBytes,
      rttMs: agents.rttMs,
      tokensPerSecond: agents.tokensPerSecond,
      latitude: agents.latitude,
      longitude: agents.longitude,
      breaker: breakerColumns,
      drainedAt: agents.drainedAt,
    })
    .from(agentModels)
    .innerJoin(agents, eq(agents.id, agentModels.agentId))
    .where(eq(agentModels.model, model));
  return rows.map(
    ({ drainedAt, ...r }): AgentView => ({
      ...r,
      // An operator's drain outranks the agent's own state: no new work either way.
      state: drainedAt === null ? r.state : 'drained',
      accelerator: r.accelerator === 'gpu' ? 'gpu' : 'cpu',
      breaker: fieldsOf(r.breaker),
    }),
  );
}

/**
 * An operator drains an agent (no new tickets, running jobs finish) or undrains it. The mark
 * survives heartbeats, re-registration and an offline spell; only the agent's removal clears it.
 * Returns false when no such agent is registered.
 */
export async function setDrained(db: Db, id: string, drainedAt: number | null): Promise<boolean> {
  const rows = await db
    .update(agents)
    .set({ drainedAt })
    .where(eq(agents.id, id))
    .returning({ id: agents.id });
  return rows.length === 1;
}

/**
 * Closes a ticket with the agent's job report, which ends its lease. Idempotent: a second report,
 * or a report after the ticket expired, releases nothing.
 */
export async function finishTicket(
  db: Db,
  agentId: string,
  jti: string,
  report: JobReport,
  now: number,
): Promise<boolean> {
  const closed = await db
    .update(tickets)
    .set({
      state: report.outcome,
      finishedAt: now,
      promptTokens: report.promptTokens,
      completionTokens: report.completionTokens,
      ttftMs: report.ttftMs ?? null,
      durationMs: report.durationMs,
      error: report.error ?? null,
    })
    .where(
      and(
        eq(tickets.jti, jti),
        eq(tickets.agentId, agentId),
        inArray(tickets.state, ['issued', 'running']),
      ),
    )
    .returning({ jti: tickets.jti });
  if (closed.length === 0) return false;
  if (report.outcome === 'success' && report.completionTokens > 0 && report.durationMs > 0) {
    const tps = (report.completionTokens * 1000) / report.durationMs;
    // Exponentially weighted average, alpha 0.2: steady but quick to follow a slowing agent.
    await db
      .update(agents)
      .set({
        tokensPerSecond: sql`coalesce(0.8 * ${agents.tokensPerSecond} + 0.2 * ${tps}, ${tps})`,
      })
      .where(eq(agents.id, agentId));
  }
  return true;
}
