// Periodic upkeep (Node timer / Workers cron): expire unused tickets, mark silent agents offline,
// remove agents that stayed offline, delete ticket history past its retention.
import { and, eq, inArray, isNull, lt } from 'drizzle-orm';
import { agentModels, agents, tickets } from '../../schema/tables.ts';
import { type ControlPlaneConfig, liveCutoff } from './config.ts';
import type { Db } from './db.ts';

export interface MaintenanceResult {
  expiredTickets: number;
  agentsMarkedOffline: number;
  agentsRemoved: number;
  ticketsDeleted: number;
}

/** Ticket rows deleted per run at most: one run stays short, and a backlog drains over runs. */
export const RETENTION_BATCH = 500;
/** Final states: the ticket's lease is over and the row is only history. */
const CLOSED_STATES = ['success', 'error', 'cancelled', 'rejected', 'expired', 'lost'];

export async function runMaintenance(
  db: Db,
  config: ControlPlaneConfig,
  now: number,
  batch = RETENTION_BATCH,
): Promise<MaintenanceResult> {
  // 1. Tickets never used before they expired are closed (their lease lapsed long ago); admitted
  // ones run on past their ticket's expiry, until the job report.
  const expired = await db
    .update(tickets)
    .set({ state: 'expired', finishedAt: now })
    .where(and(eq(tickets.state, 'issued'), isNull(tickets.admittedAt), lt(tickets.expiresAt, now)))
    .returning({ agentId: tickets.agentId });

  // 2. Agents silent past the liveness cutoff are offline; their leases are lost with them.
  const offline = await db
    .update(agents)
    .set({ state: 'offline' })
    .where(
      and(
        inArray(agents.state, ['healthy', 'degraded', 'draining']),
        lt(agents.lastHeartbeatAt, liveCutoff(config, now)),
      ),
    )
    .returning({ id: agents.id });
  if (offline.length > 0) {
    await db
      .update(tickets)
      .set({ state: 'lost', finishedAt: now })
      .where(
        and(
          inArray(
            tickets.agentId,
            offline.map((a) => a.id),
          ),
          inArray(tickets.state, ['issued', 'running']),
        ),
      );
  }

  // 3. Offline for a further CLEANUP_INTERVAL: forget the agent (its ticket history stays).
  const removed = await db
    .delete(agents)
    .where(
      and(
        eq(agents.state, 'offline'),
        lt(agents.lastHeartbeatAt, liveCutoff(config, now) - config.cleanupIntervalMs),
      ),
    )
    .returning({ id: agents.id });
  if (removed.length > 0) {
    await db.delete(agentModels).where(
      inArray(
        agentModels.agentId,
        removed.map((a) => a.id),
      ),
    );
  }
  // 4. Closed tickets past TICKET_RETENTION are deleted, oldest first, `batch` per run
  // (tickets_state_expires_idx finds them without a scan).
  const old = db
    .select({ jti: tickets.jti })
    .from(tickets)
    .where(
      and(
        inArray(tickets.state, CLOSED_STATES),
        lt(tickets.expiresAt, now - config.ticketRetentionMs),
      ),
    )
    .orderBy(tickets.expiresAt)
    .limit(batch);
  // No RETURNING: D1 reports the rows written (deletes and their index entries) only for run().
  const deleted = changes(await db.delete(tickets).where(inArray(tickets.jti, old)));
  return {
    expiredTickets: expired.length,
    agentsMarkedOffline: offline.length,
    agentsRemoved: removed.length,
    ticketsDeleted: deleted,
  };
}

/** Rows a statement changed: better-sqlite3 says `changes`, D1 `meta.changes`. */
function changes(result: unknown): number {
  const r = result as { changes?: number; meta?: { changes?: number } };
  return r.changes ?? r.meta?.changes ?? 0;
}
