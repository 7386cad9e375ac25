// Breaker rows in SQL: compare-and-set transitions and atomic probe places (ADR 0004).
import { and, count, eq, gt, inArray, isNotNull, isNull, lte, or, sql } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { agents, tickets } from '../../../../schema/tables.ts';
import type { BreakerStore } from '../types.ts';
import type { Db } from './db.ts';

/** The agents columns that hold a breaker, for selects (agent views). */
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

function same(col: SQLiteColumn, v: string | number | null) {
  return v === null ? isNull(col) : eq(col, v);
}

/** SQL: 1 where `condition` holds, else 0, summed (0 over no rows). */
const countWhere = (condition: ReturnType<typeof sql>) =>
  sql<number>`coalesce(sum(CASE WHEN ${condition} THEN 1 ELSE 0 END), 0)`;

export function sqliteBreakers(db: Db): BreakerStore {
  return {
    // Optimistic concurrency: D1 has no interactive transactions.
    async compareAndSet(agentId, expected, next) {
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
    },

    // One guarded UPDATE (like a slot lease): never more than halfOpenProbes at once, however
    // many isolates race; a place held past probeTimeoutMs is taken back, so a silent probe
    // cannot wedge the breaker.
    async claimProbe(agentId, now, cfg) {
      const maxProbes = cfg.halfOpenProbes;
      const timedOut = or(
        isNull(agents.breakerProbeAt),
        lte(agents.breakerProbeAt, now - cfg.probeTimeoutMs),
      );
      const rows = await db
        .update(agents)
        .set({
          breakerProbes: sql`CASE WHEN ${agents.breakerProbes} < ${maxProbes} THEN ${agents.breakerProbes} + 1 ELSE 1 END`,
          breakerProbeAt: now,
        })
        .where(
          and(
            eq(agents.id, agentId),
            eq(agents.breakerState, 'open'),
            lte(agents.breakerOpenUntil, now),
            or(sql`${agents.breakerProbes} < ${maxProbes}`, timedOut),
          ),
        )
        .returning({ id: agents.id });
      return rows.length === 1;
    },

    async releaseProbe(agentId) {
      await db
        .update(agents)
        .set({
          breakerProbes: sql`CASE WHEN ${agents.breakerProbes} > 0 THEN ${agents.breakerProbes} - 1 ELSE 0 END`,
        })
        .where(and(eq(agents.id, agentId), eq(agents.breakerState, 'open')));
    },

    async markFailed(agentId, jti, now) {
      const rows = await db
        .update(tickets)
        .set({ failedAt: now })
        .where(and(eq(tickets.jti, jti), eq(tickets.agentId, agentId), isNull(tickets.failedAt)))
        .returning({ issuedAt: tickets.issuedAt });
      return rows[0] ?? null;
    },

    async windowCounts(agentId, since) {
      const rows = await db
        .select({ requests: count(), failures: countWhere(sql`${tickets.failedAt} IS NOT NULL`) })
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
    },

    async fleetCounts(liveAfter) {
      const rows = await db
        .select({ live: count(), open: countWhere(sql`${agents.breakerState} = 'open'`) })
        .from(agents)
        .where(
          and(
            inArray(agents.state, ['healthy', 'degraded', 'draining']),
            gt(agents.lastHeartbeatAt, liveAfter),
          ),
        );
      return { live: Number(rows[0]?.live ?? 0), open: Number(rows[0]?.open ?? 0) };
    },

    async setHealth(agentId, from, to) {
      const rows = await db
        .update(agents)
        .set({ state: to })
        .where(and(eq(agents.id, agentId), eq(agents.state, from)))
        .returning({ id: agents.id });
      return rows.length === 1;
    },
  };
}
