// Tickets and their slot leases in SQL: the ticket row IS the lease (docs/adr/0009). An agent's
// reserved slots are its open tickets, counted, never a counter: not yet closed, and confirmed by
// the agent (admitted_at set) or still inside the claim window. Confirming writes admitted_at, a
// column in no index, so it costs D1 one row; the ticket's state (in three indexes) changes once,
// at the job report.
import { and, count, countDistinct, eq, gt, inArray, isNull, like, lt, sql } from 'drizzle-orm';
import { agents, tickets } from '../../../../schema/tables.ts';
import { OPEN_TICKET_STATES, type TicketStore } from '../types.ts';
import { holds, openLeasesOf, routable } from './conditions.ts';
import { builtOnce, changes, type Db } from './db.ts';
import { sqliteTicketHistory } from './ticket-history.ts';

/** Final states: the ticket's lease is over and the row is only history. */
const CLOSED_STATES = ['success', 'error', 'cancelled', 'rejected', 'expired', 'lost'];

export function sqliteTickets(db: Db): TicketStore {
  const open = () => inArray(tickets.state, [...OPEN_TICKET_STATES]);
  const ticketByJti = builtOnce(() =>
    db
      .select()
      .from(tickets)
      .where(eq(tickets.jti, sql.placeholder('jti')))
      .limit(1)
      .prepare(),
  );
  const openLeasesOfAgent = builtOnce(() =>
    db
      .select({
        jti: tickets.jti,
        state: tickets.state,
        issuedAt: tickets.issuedAt,
        admittedAt: tickets.admittedAt,
        claimUntil: tickets.claimUntil,
      })
      .from(tickets)
      .where(and(eq(tickets.agentId, sql.placeholder('agentId')), open()))
      .prepare(),
  );
  return {
    ...sqliteTicketHistory(db),
    // One guarded INSERT…SELECT: two decisions cannot both take the last slot (a statement is
    // atomic on SQLite and D1). The epoch is read in the same statement.
    async takeLease(t, liveAfter) {
      const rows = await db.all<{ jti: string; reg: number }>(sql`
        INSERT INTO tickets (jti, agent_id, model, client, state, issued_at, expires_at, claim_until,
          decision)
        SELECT ${t.jti}, ${t.agentId}, ${t.model}, ${t.client}, 'issued', ${t.issuedAt},
          ${t.expiresAt}, ${t.claimUntil}, ${t.decision ?? null}
        FROM agents
        WHERE ${and(eq(agents.id, t.agentId), routable(liveAfter))}
          AND ${openLeasesOf(sql`${agents.id}`, t.issuedAt)} < ${agents.maxJobs}
        RETURNING jti, (SELECT r.registered_at FROM agents r WHERE r.id = ${t.agentId}) AS reg`);
      return rows.length === 1 ? Number(rows[0]?.reg) : undefined;
    },

    async confirmLease(agentId, jti, now) {
      const rows = await db.all<{ jti: string }>(sql`
        UPDATE tickets SET admitted_at = coalesce(admitted_at, ${now})
        WHERE jti = ${jti} AND agent_id = ${agentId} AND state IN ('issued', 'running')
          AND (${holds('tickets', now)}
            OR ${openLeasesOf(sql`${agentId}`, now)}
              < (SELECT a.max_jobs FROM agents a WHERE a.id = ${agentId}))
        RETURNING jti`);
      if (rows.length === 1) return 'admitted';
      const found = await db.all<{ state: string }>(
        sql`SELECT state FROM tickets WHERE jti = ${jti} AND agent_id = ${agentId}`,
      );
      const state = found[0]?.state;
      return state === undefined
        ? 'unknown'
        : state === 'issued' || state === 'running'
          ? 'lapsed'
          : 'finished';
    },

    async reconcileLeases(agentId, runningJobs, now, graceMs) {
      const listed = sql.join(
        runningJobs.map((j) => sql`${j}`),
        sql`, `,
      );
      let confirmed = 0;
      if (runningJobs.length > 0) {
        const rows = await db.all<{ jti: string }>(sql`
          UPDATE tickets SET admitted_at = ${now}
          WHERE agent_id = ${agentId} AND state IN ('issued', 'running') AND admitted_at IS NULL
            AND jti IN (${listed})
          RETURNING jti`);
        confirmed = rows.length;
      }
      const released = await db.all<{ jti: string }>(sql`
        UPDATE tickets SET state = 'lost', finished_at = ${now},
          error = 'the agent no longer lists this job in its heartbeat'
        WHERE agent_id = ${agentId} AND state IN ('issued', 'running')
          AND (admitted_at IS NOT NULL OR state = 'running')
          AND coalesce(admitted_at, issued_at) < ${now - graceMs}
          ${runningJobs.length > 0 ? sql`AND jti NOT IN (${listed})` : sql``}
        RETURNING jti`);
      return { confirmed, released: released.length };
    },

    // tickets_agent_state_idx: a few rows per agent, read on every heartbeat.
    openLeases: async (agentId) => await openLeasesOfAgent().all({ agentId }),

    async leaseCounts(now) {
      const rows = await db.all<{ agent_id: string; n: number }>(sql`
        SELECT agent_id, count(*) AS n FROM tickets t WHERE ${holds('t', now)} GROUP BY agent_id`);
      return new Map(rows.map((r) => [r.agent_id, Number(r.n)]));
    },

    async finish(agentId, jti, report, now) {
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
          finishReason: report.reason ?? null,
        })
        .where(and(eq(tickets.jti, jti), eq(tickets.agentId, agentId), open()))
        .returning({ jti: tickets.jti });
      return closed.length === 1;
    },

    async openOf(client) {
      const rows = await db
        .select({ n: count() })
        .from(tickets)
        .where(and(eq(tickets.client, client), open()));
      return rows[0]?.n ?? 0;
    },

    async get(jti) {
      const rows = await ticketByJti().all({ jti });
      return rows[0];
    },

    async noteError(agentId, jti, error) {
      await db
        .update(tickets)
        .set({ error })
        .where(and(eq(tickets.jti, jti), eq(tickets.agentId, agentId), isNull(tickets.error)));
    },

    async reporters(agentId, since, errorPrefix) {
      const rows = await db
        .select({ n: countDistinct(tickets.client) })
        .from(tickets)
        .where(
          and(
            eq(tickets.agentId, agentId),
            gt(tickets.issuedAt, since),
            like(tickets.error, `${errorPrefix}%`),
          ),
        );
      return rows[0]?.n ?? 0;
    },

    async expireUnused(now) {
      // Admitted tickets run on past their expiry, until the job report.
      const expired = await db
        .update(tickets)
        .set({ state: 'expired', finishedAt: now })
        .where(
          and(eq(tickets.state, 'issued'), isNull(tickets.admittedAt), lt(tickets.expiresAt, now)),
        )
        .returning({ agentId: tickets.agentId });
      return expired.length;
    },

    async deleteClosed(before, batch) {
      // tickets_state_expires_idx finds them without a scan.
      const old = db
        .select({ jti: tickets.jti })
        .from(tickets)
        .where(and(inArray(tickets.state, CLOSED_STATES), lt(tickets.expiresAt, before)))
        .orderBy(tickets.expiresAt)
        .limit(batch);
      // No RETURNING: D1 reports the rows written (deletes and their index entries) only for run().
      return changes(await db.delete(tickets).where(inArray(tickets.jti, old)));
    },
  };
}
