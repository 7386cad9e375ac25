// Health derived without writes: an agent whose heartbeats are late, or whose memory is nearly
// full, is degraded until it catches up.
import { type ControlPlaneConfig, liveCutoff } from '../config.ts';

/**
 * Free memory (VRAM on GPU agents, RAM on CPU ones) below this share of the total is memory
 * pressure: the agent stays routable at a reduced score. Below the scheduler's 5% safety share
 * (scheduler/filters/memory.ts) it takes no new work at all.
 */
export const MEMORY_PRESSURE_SHARE = 0.1;

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

/** Reported free memory under MEMORY_PRESSURE_SHARE of the total (unknown figures: no). */
export function underMemoryPressure(a: { memoryFreeBytes: number; memoryTotalBytes: number }) {
  return a.memoryTotalBytes > 0 && a.memoryFreeBytes < a.memoryTotalBytes * MEMORY_PRESSURE_SHARE;
}

export interface HealthInputs {
  state: string;
  lastHeartbeatAt: number;
  memoryFreeBytes: number;
  memoryTotalBytes: number;
}

/**
 * The state the scheduler and the status page use, derived when read: an agent silent past
 * HEARTBEAT_TIMEOUT is offline before maintenance writes it so, and a healthy agent that is late
 * or under memory pressure counts as degraded (the failure-rate kind of degraded is stored, see
 * outcomes.ts).
 */
export function effectiveState(
  agent: HealthInputs,
  now: number,
  config: Pick<
    ControlPlaneConfig,
    'livenessWriteIntervalMs' | 'heartbeatIntervalMs' | 'heartbeatTimeoutMs'
  >,
): string {
  const live = agent.state === 'healthy' || agent.state === 'degraded';
  if (live && agent.lastHeartbeatAt <= liveCutoff(config, now)) return 'offline';
  if (agent.state !== 'healthy') return agent.state;
  const degraded = lateHeartbeat(agent.lastHeartbeatAt, now, config) || underMemoryPressure(agent);
  return degraded ? 'degraded' : 'healthy';
}
