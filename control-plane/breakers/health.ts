// Health derived without writes: an agent whose heartbeats are late is degraded until it catches up.
import type { ControlPlaneConfig } from '../config.ts';

/**
 * Heartbeats are written at least every LIVENESS_WRITE_INTERVAL (ADR 0003); one written more than
 * that plus two heartbeat intervals ago means the agent is late (slow, overloaded, or dying). It
 * stays routable at half score; HEARTBEAT_TIMEOUT later it is offline.
 */
export function lateHeartbeat(
  lastHeartbeatAt: number,
  now: number,
  config: Pick<ControlPlaneConfig, 'livenessWriteIntervalMs' | 'heartbeatIntervalMs'>,
): boolean {
  return now - lastHeartbeatAt > config.livenessWriteIntervalMs + 2 * config.heartbeatIntervalMs;
}

/** The state the scheduler and the status page use: a late healthy agent counts as degraded. */
export function effectiveState(
  state: string,
  lastHeartbeatAt: number,
  now: number,
  config: Pick<ControlPlaneConfig, 'livenessWriteIntervalMs' | 'heartbeatIntervalMs'>,
): string {
  return state === 'healthy' && lateHeartbeat(lastHeartbeatAt, now, config) ? 'degraded' : state;
}
