// Registry queries: agents, the models they serve, and ticket slots reserved with guarded updates.
import { and, eq, gt, inArray, lt, sql } from 'drizzle-orm';
import type { AgentModel, AgentStats, JobReport } from '../protocol/agent-api.ts';
import { type AgentRow, agentModels, agents, tickets } from '../schema/tables.ts';
import type { Db } from './db.ts';

export const ROUTABLE_STATES = ['healthy', 'degraded'] as const;

export interface AgentRegistration {
  id: string;
  url: string;
  engine: string;
  version: string;
  maxJobs: number;
  models: AgentModel[];
  stats: AgentStats;
}

export interface Candidate extends AgentRow {
  modelLoaded: boolean;
  modelMemoryBytes: number | null;
}

export async function upsertAgent(db: Db, reg: AgentRegistration, now: number): Promise<void> {
  const row = {
    url: reg.url,
    engine: reg.engine,
    version: reg.version,
    maxJobs: reg.maxJobs,
    state: 'healthy',
    stats: JSON.stringify(reg.stats),
    lastHeartbeatAt: now,
  };
  // A registration is a fresh agent process (start or restart after a crash): whatever the old
  // process was serving died with it, so its open tickets are lost and its slots come back.
  await db
    .insert(agents)
    .values({ id: reg.id, registeredAt: now, reservedJobs: 0, reportedJobs: 0, ...row })
    .onConflictDoUpdate({ target: agents.id, set: { ...row, reservedJobs: 0, reportedJobs: 0 } });
  await db
    .update(tickets)
    .set({ state: 'lost', finishedAt: now })
    .where(and(eq(tickets.agentId, reg.id), inArray(tickets.state, ['issued', 'running'])));
  await replaceModels(db, reg.id, reg.models);
}

/** Rewrites an agent's model list only when it changed, to spare database writes. */
export async function replaceModels(db: Db, agentId: string, models: AgentModel[]): Promise<void> {
  const current = await db.select().from(agentModels).where(eq(agentModels.agentId, agentId));
  const key = (m: {
    model?: string;
    name?: string;
    loaded: boolean;
    memoryBytes?: number | null;
  }) => `${m.model ?? m.name}|${m.loaded}|${m.memoryBytes ?? ''}`;
  const before = current.map(key).sort().join('\n');
  const after = models
    .map((m) => key({ model: m.name, loaded: m.loaded, memoryBytes: m.memoryBytes ?? null }))
    .sort()
    .join('\n');
  if (before === after) return;
  await db.delete(agentModels).where(eq(agentModels.agentId, agentId));
  if (models.length === 0) return;
  await db.insert(agentModels).values(
    models.map((m) => ({
      agentId,
      model: m.name,
      loaded: m.loaded,
      memoryBytes: m.memoryBytes ?? null,
    })),
  );
}

export async function getAgent(db: Db, id: string): Promise<AgentRow | undefined> {
  const rows = await db.select().from(agents).where(eq(agents.id, id)).limit(1);
  return rows[0];
}

export interface HeartbeatUpdate {
  stats: AgentStats;
  reportedJobs: number;
  runningJobs: string[];
  draining: boolean;
  rttMs: number | undefined;
}

/** Records a heartbeat; returns false when the agent is unknown (it must register again). */
export async function recordHeartbeat(
  db: Db,
  id: string,
  hb: HeartbeatUpdate,
  now: number,
): Promise<boolean> {
  const updated = await db
    .update(agents)
    .set({
      stats: JSON.stringify(hb.stats),
      reportedJobs: hb.reportedJobs,
      lastHeartbeatAt: now,
      rttMs: hb.rttMs ?? null,
      state: hb.draining ? 'draining' : 'healthy',
    })
    .where(eq(agents.id, id))
    .returning({ id: agents.id });
  if (updated.length === 0) return false;
  if (hb.runningJobs.length > 0) {
    // Streams outliving their ticket's expiry keep their slot until the job report.
    await db
      .update(tickets)
      .set({ state: 'running' })
      .where(
        and(
          eq(tickets.agentId, id),
          eq(tickets.state, 'issued'),
          inArray(tickets.jti, hb.runningJobs),
        ),
      );
  }
  return true;
}

/** Live agents that advertise `model`, with their slot counts. */
export async function findCandidates(
  db: Db,
  model: string,
  now: number,
  heartbeatTimeoutMs: number,
) {
  const rows = await db
    .select({ agent: agents, loaded: agentModels.loaded, memoryBytes: agentModels.memoryBytes })
    .from(agentModels)
    .innerJoin(agents, eq(agents.id, agentModels.agentId))
    .where(
      and(
        eq(agentModels.model, model),
        inArray(agents.state, [...ROUTABLE_STATES]),
        gt(agents.lastHeartbeatAt, now - heartbeatTimeoutMs),
      ),
    );
  return rows.map(
    (r): Candidate => ({ ...r.agent, modelLoaded: r.loaded, modelMemoryBytes: r.memoryBytes }),
  );
}

/** True when any registered agent (live or not) advertises the model. */
export async function isKnownModel(db: Db, model: string): Promise<boolean> {
  const rows = await db
    .select({ model: agentModels.model })
    .from(agentModels)
    .where(eq(agentModels.model, model))
    .limit(1);
  return rows.length > 0;
}

/** Reserves one slot in a single guarded statement: never more than max_jobs, even under races. */
export async function reserveSlot(
  db: Db,
  agentId: string,
  now: number,
  heartbeatTimeoutMs: number,
): Promise<boolean> {
  const rows = await db
    .update(agents)
    .set({ reservedJobs: sql`${agents.reservedJobs} + 1` })
    .where(
      and(
        eq(agents.id, agentId),
        lt(agents.reservedJobs, agents.maxJobs),
        inArray(agents.state, [...ROUTABLE_STATES]),
        gt(agents.lastHeartbeatAt, now - heartbeatTimeoutMs),
      ),
    )
    .returning({ id: agents.id });
  return rows.length === 1;
}

export async function releaseSlot(db: Db, agentId: string): Promise<void> {
  await db
    .update(agents)
    .set({ reservedJobs: sql`max(${agents.reservedJobs} - 1, 0)` })
    .where(eq(agents.id, agentId));
}

export async function insertTicket(
  db: Db,
  t: {
    jti: string;
    agentId: string;
    model: string;
    client: string;
    issuedAt: number;
    expiresAt: number;
  },
): Promise<void> {
  await db.insert(tickets).values({ ...t, state: 'issued' });
}

/**
 * Closes a ticket with the agent's job report and frees its slot. Idempotent: a second report,
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
  await releaseSlot(db, agentId);
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
