// SQL conditions more than one store part needs: which agents are routable, which tickets hold a
// slot (docs/adr/0009).
import { and, gt, inArray, isNull, type SQL, sql } from 'drizzle-orm';
import { agents } from '../../../../schema/tables.ts';
import { ROUTABLE_STATES } from '../types.ts';

/** Routable (by state), undrained and heard from after `liveAfter`. */
export function routable(liveAfter: number) {
  return and(
    inArray(agents.state, [...ROUTABLE_STATES]),
    isNull(agents.drainedAt),
    gt(agents.lastHeartbeatAt, liveAfter),
  );
}

/**
 * Ticket `t` (an alias) holds its slot at `now`: open, and confirmed by the agent (admitted, or
 * `running` by heartbeat) or still inside its claim window.
 */
export function holds(t: string, now: number) {
  const c = (name: string) => sql.raw(`${t}.${name}`);
  return sql`${c('state')} IN ('issued', 'running')
    AND (${c('admitted_at')} IS NOT NULL OR ${c('state')} = 'running' OR ${c('claim_until')} > ${now})`;
}

/** The number of open leases of the agent `agentId` (SQL) at `now`. */
export function openLeasesOf(agentId: SQL, now: number) {
  return sql`(SELECT count(*) FROM tickets l WHERE l.agent_id = ${agentId} AND ${holds('l', now)})`;
}
