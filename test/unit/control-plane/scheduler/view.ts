// A factory for AgentView test data.
import type {
  AgentView,
  SchedulerContext,
} from '../../../../control-plane/core/scheduler/types.ts';

export const NOW = 1_000_000;
export const GiB = 2 ** 30;

export function view(id: string, over: Partial<AgentView> = {}): AgentView {
  return {
    id,
    url: `http://${id}`,
    state: 'healthy',
    lastHeartbeatAt: NOW - 1_000,
    maxJobs: 4,
    reservedJobs: 0,
    accelerator: 'gpu',
    memoryFreeBytes: 40 * GiB,
    memoryTotalBytes: 80 * GiB,
    modelLoaded: true,
    modelMemoryBytes: 10 * GiB,
    rttMs: 10,
    tokensPerSecond: 50,
    latitude: null,
    longitude: null,
    ...over,
  };
}

export function ctx(over: Partial<SchedulerContext> = {}): SchedulerContext {
  return { now: NOW, liveAfter: NOW - 45_000, breakerAdmits: () => true, ...over };
}
