// Filters: each keeps an agent (null) or names why it cannot take the request.
import type { AgentView, Exclusion, Filter } from './types.ts';

/** Memory the scheduler keeps free on top of a model's estimate (5% of the agent's total). */
export const MEMORY_SAFETY_SHARE = 0.05;

/** Memory the request would cost this agent: nothing if the model is loaded, else its size. */
export function memoryNeeded(agent: AgentView): number {
  return agent.modelLoaded ? 0 : (agent.modelMemoryBytes ?? 0);
}

export const isLive: Filter = (agent, _req, ctx) => {
  if (agent.state === 'offline') return 'offline';
  if (agent.state === 'draining') return 'draining';
  if (agent.state === 'drained') return 'drained by an operator';
  if (agent.lastHeartbeatAt <= ctx.liveAfter) {
    return `no heartbeat for ${Math.round((ctx.now - agent.lastHeartbeatAt) / 1000)} s`;
  }
  return null;
};

export const breakerAdmits: Filter = (agent, _req, ctx) =>
  ctx.breakerAdmits(agent.id) ? null : 'circuit breaker open';

/**
 * The model must fit in free memory (VRAM on GPU agents, RAM on CPU agents) with 5% of the total
 * to spare; a loaded model costs nothing, but an agent under memory pressure takes no new work.
 * Agents that report no memory figures are not filtered.
 */
export const memoryFits: Filter = (agent) => {
  if (agent.memoryTotalBytes <= 0) return null;
  const need = memoryNeeded(agent);
  const margin = agent.memoryTotalBytes * MEMORY_SAFETY_SHARE;
  if (agent.memoryFreeBytes - need >= margin) return null;
  const mib = (b: number) => Math.round(b / 2 ** 20);
  const kind = agent.accelerator === 'gpu' ? 'VRAM' : 'RAM';
  return need === 0
    ? `memory pressure: ${mib(agent.memoryFreeBytes)} of ${mib(agent.memoryTotalBytes)} MiB ${kind} free`
    : `model needs ${mib(need)} MiB, ${mib(agent.memoryFreeBytes)} MiB ${kind} free`;
};

export const hasFreeSlot: Filter = (agent) =>
  agent.reservedJobs < agent.maxJobs ? null : `all ${agent.maxJobs} slots busy`;

export interface NamedFilter {
  name: 'live' | 'breaker' | 'memory' | 'slots';
  check: Filter;
}

/** In order: the cheapest and most telling reasons first. */
export const DEFAULT_FILTERS: readonly NamedFilter[] = [
  { name: 'live', check: isLive },
  { name: 'breaker', check: breakerAdmits },
  { name: 'memory', check: memoryFits },
  { name: 'slots', check: hasFreeSlot },
];

export function applyFilters(
  agents: readonly AgentView[],
  filters: readonly NamedFilter[],
  ...args: [Parameters<Filter>[1], Parameters<Filter>[2]]
): { kept: AgentView[]; excluded: Exclusion[] } {
  const kept: AgentView[] = [];
  const excluded: Exclusion[] = [];
  for (const agent of agents) {
    let hit: Exclusion | null = null;
    for (const f of filters) {
      const reason = f.check(agent, ...args);
      if (reason) {
        hit = { agentId: agent.id, filter: f.name, reason };
        break;
      }
    }
    if (hit) excluded.push(hit);
    else kept.push(agent);
  }
  return { kept, excluded };
}
