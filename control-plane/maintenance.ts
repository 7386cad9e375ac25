// Periodic upkeep (Node timer / Workers cron): expire unused tickets, mark silent agents offline,
// remove agents that stayed offline.
import { and, eq, inArray, isNull, lt } from 'drizzle-orm';
import { agentModels, agents, tickets } from '../schema/tables.ts';
import { type ControlPlaneConfig, liveCutoff } from './config.ts';
import type { Db } from './db.ts';

export interface MaintenanceResult {
  expiredTickets: number;
  agentsMarkedOffline: number;
  agentsRemoved: number;
}

export async function runMaintenance(
  db: Db,
  config: ControlPlaneConfig,
  now: number,
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
  return {
    expiredTickets: expired.length,
    agentsMarkedOffline: offline.length,
    agentsRemoved: removed.length,
  };
}
