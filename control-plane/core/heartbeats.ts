// Heartbeat write coalescing: a heartbeat reaches the database only when it changes something the
// scheduler uses, or when liveness must be refreshed. The budget behind it is docs/adr/0003.
import type { AgentStats } from '../../protocol/agent-api.ts';

/** Free/total memory the scheduler plans with: VRAM summed over GPUs, else RAM. */
export function schedulingMemory(stats: AgentStats) {
  if (stats.gpus.length > 0) {
    return {
      accelerator: 'gpu' as const,
      memoryFreeBytes: Math.round(stats.gpus.reduce((s, g) => s + g.memoryFreeBytes, 0)),
      memoryTotalBytes: Math.round(stats.gpus.reduce((s, g) => s + g.memoryTotalBytes, 0)),
    };
  }
  return {
    accelerator: 'cpu' as const,
    memoryFreeBytes: Math.round(stats.memoryFreeBytes),
    memoryTotalBytes: Math.round(stats.memoryTotalBytes),
  };
}

export interface StoredLoad {
  state: string;
  reportedJobs: number;
  memoryFreeBytes: number;
  memoryTotalBytes: number;
  rttMs: number | null;
  lastHeartbeatAt: number;
  /** Prefix-digest hashes as stored (comma-separated), null when none were. */
  prefixes?: string | null | undefined;
}

export interface IncomingLoad {
  state: string;
  reportedJobs: number;
  memoryFreeBytes: number;
  memoryTotalBytes: number;
  rttMs: number | null;
  /** What the agent reports holding now (comma-separated); undefined when it reported nothing. */
  prefixes?: string | undefined;
}

export interface CoalescingPolicy {
  /** Liveness is refreshed at least this often (LIVENESS_WRITE_INTERVAL). */
  livenessWriteIntervalMs: number;
  /** Load changes are written at most this often, unless the state changes (LOAD_WRITE_INTERVAL). */
  loadWriteIntervalMs: number;
}

/** Memory moves of less than this share of the total are noise (page cache, allocator churn). */
export const MEMORY_CHANGE_SHARE = 0.05;
/** RTT moves below max(5 ms, 25%) are noise. */
const RTT_CHANGE_MS = 5;
const RTT_CHANGE_SHARE = 0.25;

export type WriteReason = 'state' | 'load' | 'liveness' | 'cache' | null;

/** Decides whether this heartbeat is written, and why. */
export function heartbeatWriteReason(
  stored: StoredLoad,
  incoming: IncomingLoad,
  now: number,
  policy: CoalescingPolicy,
): WriteReason {
  if (stored.state !== incoming.state) return 'state';
  const sinceWrite = now - stored.lastHeartbeatAt;
  if (sinceWrite >= policy.livenessWriteIntervalMs) return 'liveness';
  if (sinceWrite < policy.loadWriteIntervalMs) return null;
  const memMoved =
    Math.abs(stored.memoryFreeBytes - incoming.memoryFreeBytes) >
    MEMORY_CHANGE_SHARE * Math.max(stored.memoryTotalBytes, incoming.memoryTotalBytes, 1);
  const rttMoved =
    (stored.rttMs === null) !== (incoming.rttMs === null) ||
    (stored.rttMs !== null &&
      incoming.rttMs !== null &&
      Math.abs(stored.rttMs - incoming.rttMs) >
        Math.max(RTT_CHANGE_MS, RTT_CHANGE_SHARE * stored.rttMs));
  // Job counts are not a reason to write: reserved slots in the database are the scheduler's truth.
  if (memMoved || rttMoved) return 'load';
  // A changed cache rides on the load interval: no more writes than a moving load costs (ADR 0013).
  const cacheMoved =
    incoming.prefixes !== undefined && incoming.prefixes !== (stored.prefixes ?? undefined);
  return cacheMoved ? 'cache' : null;
}

/** Two memory figures for one model are the same unless they differ by more than 5%. */
export function sameMemory(a: number | null | undefined, b: number | null | undefined): boolean {
  if (a == null || b == null) return a == null && b == null;
  return Math.abs(a - b) <= MEMORY_CHANGE_SHARE * Math.max(a, b);
}

export type { AgentStats };
