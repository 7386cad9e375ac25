// Periodic upkeep (Node timer / Workers cron): expire unused tickets, mark silent agents offline,
// remove agents that stayed offline, delete ticket history past its retention.
import { type ControlPlaneConfig, liveCutoff } from './config.ts';
import { type EventSink, noEvents } from './events.ts';
import type { Store } from './storage/types.ts';

export interface MaintenanceResult {
  expiredTickets: number;
  agentsMarkedOffline: number;
  agentsRemoved: number;
  ticketsDeleted: number;
}

/** Ticket rows deleted per run at most: one run stays short, and a backlog drains over runs. */
export const RETENTION_BATCH = 500;

export async function runMaintenance(
  store: Store,
  config: ControlPlaneConfig,
  now: number,
  batch = RETENTION_BATCH,
  events: EventSink = noEvents,
): Promise<MaintenanceResult> {
  const cutoff = liveCutoff(config, now);
  // 1. Tickets never used before they expired are closed (their lease lapsed long ago).
  const expiredTickets = await store.tickets.expireUnused(now);
  if (expiredTickets > 0) {
    events.emit({ type: 'lease', change: 'expired', agent: null, count: expiredTickets });
  }
  // 2. Agents silent past the liveness cutoff are offline; their leases are lost with them.
  const agentsMarkedOffline = await store.agents.markSilentOffline(cutoff, now);
  // 3. Offline for a further CLEANUP_INTERVAL: forget the agent (its ticket history stays).
  const agentsRemoved = await store.agents.removeOffline(cutoff - config.cleanupIntervalMs);
  // 4. Closed tickets past TICKET_RETENTION are deleted, oldest first, `batch` per run.
  const ticketsDeleted = await store.tickets.deleteClosed(now - config.ticketRetentionMs, batch);
  return { expiredTickets, agentsMarkedOffline, agentsRemoved, ticketsDeleted };
}
