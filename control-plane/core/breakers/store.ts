// Breaker rows in the database: compare-and-set transitions and atomic probe places (ADR 0004).
import { and, count, eq, gt, inArray, isNotNull, isNull, lte, or, sql } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { agents, tickets } from '../../../schema/tables.ts';
import type { Db } from '../db.ts';
import type { BreakerConfig, BreakerFields } from './policy.ts';

/** The agents columns that hold a breaker, for selects (loadAgentViews, status). */
export const breakerColumns = {
  breakerState: agents.breakerState,
  breakerFailures: agents.breakerFailures,
  breakerTrips: agents.breakerTrips,
  breakerOpenedAt: agents.breakerOpenedAt,
  breakerOpenUntil: agents.breakerOpenUntil,
  breakerChangedAt: agents.breakerChangedAt,
  breakerProbes: agents.breakerProbes,
  breakerProbeAt: agents.breakerProbeAt,
};

export type BreakerRow = {
  [K in keyof typeof breakerColumns]: (typeof breakerColumns)[K]['_']['data'] | null;
};

export function fieldsOf(r: BreakerRow): BreakerFields {
  return {
    state: r.breakerState === 'open' ? 'open' : 'closed',
    failures: r.breakerFailures ?? 0,
    trips: r.breakerTrips ?? 0,
    openedAt: r.breakerOpenedAt,
    openUntil: r.breakerOpenUntil,
    changedAt: r.breakerChangedAt,
    probes: r.breakerProbes ?? 0,
    probeAt: r.breakerProbeAt,
  };
}

function same(col: SQLiteColumn, v: string | number | null) {
  return v === null ? isNull(col) : eq(col, v);
}

/**
 * Writes `next` only if the row still holds `expected` (optimistic concurrency: D1 has no
 * interactive transactions). False: someone else moved the breaker first; read again.
 */
export async function compareAndSet(
  db: Db,
  agentId: string,
  expected: BreakerFields,
  next: BreakerFields,
): Promise<boolean> {
  const rows = await db
    .update(agents)
    .set({
      breakerState: next.state,
      breakerFailures: next.failures,
      breakerTrips: next.trips,
      breakerOpenedAt: next.openedAt,
      breakerOpenUntil: next.openUntil,
      breakerChangedAt: next.changedAt,
      breakerProbes: next.probes,
      breakerProbeAt: next.probeAt,
    })
    .where(
      and(
        eq(agents.id, agentId),
        eq(agents.breakerState, expected.state),
        eq(agents.breakerFailures, expected.failures),
        eq(agents.breakerTrips, expected.trips),
        same(agents.breakerOpenedAt, expected.openedAt),
        eq(agents.breakerProbes, expected.probes),
        same(agents.breakerProbeAt, expected.probeAt),
      ),
    )
    .returning({ id: agents.id });
  return rows.length === 1;
}

/**
 * Takes one half-open probe place in a single guarded UPDATE (like slot reservation): never more
 * than halfOpenProbes at once, however many isolates race. A place held longer than
 * probeTimeoutMs is taken back, so a probe that never reports cannot wedge the breaker.
 */
export async function claimProbe(
  db: Db,
  agentId: string,
  now: number,
  cfg: BreakerConfig,
): Promise<boolean> {
  const timedOut = or(
    isNull(agents.breakerProbeAt),
    lte(agents.breakerProbeAt, now - cfg.probeTimeoutMs),
  );
  const rows = await db
    .update(agents)
    .set({
      breakerProbes: sql`CASE WHEN ${agents.breakerProbes} < ${cfg.halfOpenProbes} THEN ${agents.breakerProbes} + 1 ELSE 1 END`,
      breakerProbeAt: now,
    })
    .where(
      and(
        eq(agents.id, agentId),
        eq(agents.breakerState, 'open'),
        lte(agents.breakerOpenUntil, now),
        or(sql`${agents.breakerProbes} < ${cfg.halfOpenProbes}`, timedOut),
      ),
    )
    .returning({ id: agents.id });
  return rows.length === 1;
}

/** Gives a probe place back (its slot could not be reserved after all). */
export async function releaseProbe(db: Db, agentId: string): Promise<void> {
  await db
    .update(agents)
    .set({ breakerProbes: sql`max(${agents.breakerProbes} - 1, 0)` })
    .where(and(eq(agents.id, agentId), eq(agents.breakerState, 'open')));
}

/**
 * Marks a ticket's failure as counted against its agent; false if it already was (each ticket
 * counts at most once, whoever reports it: the agent's job report or the client). Returns the
 * ticket's issue time when counted.
 */
export async function markTicketFailed(
  db: Db,
  agentId: string,
  jti: string,
  now: number,
): Promise<{ issuedAt: number } | null> {
  const rows = await db
    .update(tickets)
    .set({ failedAt: now })
    .where(and(eq(tickets.jti, jti), eq(tickets.agentId, agentId), isNull(tickets.failedAt)))
    .returning({ issuedAt: tickets.issuedAt });
  return rows[0] ?? null;
}

/** Finished requests and counted failures of one agent in the window (read on failures only). */
export async function windowCounts(
  db: Db,
  agentId: string,
  since: number,
): Promise<{ requests: number; failures: number }> {
  const rows = await db
    .select({
      requests: count(),
      failures: sql<number>`coalesce(sum(CASE WHEN ${tickets.failedAt} IS NOT NULL THEN 1 ELSE 0 END), 0)`,
    })
    .from(tickets)
    .where(
      and(
        eq(tickets.agentId, agentId),
        or(
          and(isNotNull(tickets.failedAt), gt(tickets.failedAt, since)),
          and(eq(tickets.state, 'success'), gt(tickets.finishedAt, since)),
        ),
      ),
    );
  const r = rows[0];
  return { requests: Number(r?.requests ?? 0), failures: Number(r?.failures ?? 0) };
}

/**
 * Whether one more live agent may be ejected without ejecting more than maxEjectionShare of the
 * live fleet. Agents that are offline (silent) are not counted: they are out anyway.
 */
export async function mayEject(db: Db, liveAfter: number, cfg: BreakerConfig): Promise<boolean> {
  const rows = await db
    .select({
      live: count(),
      open: sql<number>`coalesce(sum(CASE WHEN ${agents.breakerState} = 'open' THEN 1 ELSE 0 END), 0)`,
    })
    .from(agents)
    .where(
      and(
        inArray(agents.state, ['healthy', 'degraded', 'draining']),
        gt(agents.lastHeartbeatAt, liveAfter),
      ),
    );
  const live = Number(rows[0]?.live ?? 0);
  const open = Number(rows[0]?.open ?? 0);
  return open + 1 <= Math.floor(live * cfg.maxEjectionShare);
}

/** Moves an agent between healthy and degraded; guarded so it never undoes offline/draining. */
export async function setHealth(
  db: Db,
  agentId: string,
  from: 'healthy' | 'degraded',
  to: 'healthy' | 'degraded',
): Promise<boolean> {
  const rows = await db
    .update(agents)
    .set({ state: to })
    .where(and(eq(agents.id, agentId), eq(agents.state, from)))
    .returning({ id: agents.id });
  return rows.length === 1;
}
