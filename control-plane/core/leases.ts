// Slot leases: the ticket row IS the lease (docs/adr/0009). An agent's reserved slots are its open
// tickets, counted, never a counter: not yet closed, and confirmed by the agent (admitted_at set)
// or still inside the claim window. An unconfirmed lease lapses by itself; nothing releases it.
// Confirming writes admitted_at, a column in no index, so it costs D1 one row; the ticket's state
// (in three indexes) changes once, at the job report.
import { sql } from 'drizzle-orm';
import type { Db } from './db.ts';
import { ROUTABLE_STATES } from './registry.ts';

/** SQL: ticket `t` (an alias) holds its slot at `now`. `running` is a confirmation by heartbeat. */
function holds(t: string, now: number) {
  const c = (name: string) => sql.raw(`${t}.${name}`);
  return sql`${c('state')} IN ('issued', 'running')
    AND (${c('admitted_at')} IS NOT NULL OR ${c('state')} = 'running' OR ${c('claim_until')} > ${now})`;
}

/** SQL: the number of open leases of the agent `agentIdSql` at `now`. */
export function openLeasesOf(agentIdSql: ReturnType<typeof sql>, now: number) {
  return sql`(SELECT count(*) FROM tickets l WHERE l.agent_id = ${agentIdSql} AND ${holds('l', now)})`;
}

export interface LeaseRequest {
  jti: string;
  agentId: string;
  model: string;
  client: string;
  issuedAt: number;
  expiresAt: number;
  claimUntil: number;
}

/**
 * Takes a slot on `agentId` by inserting the ticket, in one guarded INSERT…SELECT: no row when
 * the agent is full, not routable, drained or silent since `liveAfter`. Two decisions cannot both
 * take the last slot (a statement is atomic on SQLite and D1). Returns the epoch of the agent's
 * current registration (the ticket's `reg`), read in the same statement, or undefined when no
 * lease was taken.
 */
export async function takeLease(
  db: Db,
  t: LeaseRequest,
  liveAfter: number,
): Promise<number | undefined> {
  const rows = await db.all<{ jti: string; reg: number }>(sql`
    INSERT INTO tickets (jti, agent_id, model, client, state, issued_at, expires_at, claim_until)
    SELECT ${t.jti}, ${t.agentId}, ${t.model}, ${t.client}, 'issued', ${t.issuedAt},
      ${t.expiresAt}, ${t.claimUntil}
    FROM agents a
    WHERE a.id = ${t.agentId}
      AND a.state IN (${sql.join(
        ROUTABLE_STATES.map((s) => sql`${s}`),
        sql`, `,
      )})
      AND a.drained_at IS NULL
      AND a.last_heartbeat_at > ${liveAfter}
      AND ${openLeasesOf(sql`a.id`, t.issuedAt)} < a.max_jobs
    RETURNING jti, (SELECT r.registered_at FROM agents r WHERE r.id = ${t.agentId}) AS reg`);
  return rows.length === 1 ? Number(rows[0]?.reg) : undefined;
}

export type Confirmation = 'admitted' | 'unknown' | 'finished' | 'lapsed';

/**
 * The agent admitted the ticket's job: its lease is held until the job report, or until a
 * heartbeat no longer lists it. A lease that lapsed is taken again if the agent still has a free
 * slot by the control plane's count; otherwise the confirmation is refused.
 */
export async function confirmLease(
  db: Db,
  agentId: string,
  jti: string,
  now: number,
): Promise<Confirmation> {
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
}

/**
 * Heartbeat reconciliation: the agent's list of running jobs is the truth. Tickets it lists are
 * confirmed (if the admission call was lost); confirmed ones it no longer lists, admitted more
 * than `graceMs` ago (a heartbeat built just before the admission would not list it yet), are
 * lost and free their slot.
 */
export async function reconcileLeases(
  db: Db,
  agentId: string,
  runningJobs: readonly string[],
  now: number,
  graceMs: number,
): Promise<{ confirmed: number; released: number }> {
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
}

/** Open leases per agent right now (status page, metrics). */
export async function leaseCounts(db: Db, now: number): Promise<Map<string, number>> {
  const rows = await db.all<{ agent_id: string; n: number }>(sql`
    SELECT agent_id, count(*) AS n FROM tickets t WHERE ${holds('t', now)} GROUP BY agent_id`);
  return new Map(rows.map((r) => [r.agent_id, Number(r.n)]));
}
