// Filter: the model fits in the agent's free memory with a safety margin.
import type { AgentView, Filter, FilterModule } from '../types.ts';

/** Memory the scheduler keeps free on top of a model's estimate (5% of the agent's total). */
export const MEMORY_SAFETY_SHARE = 0.05;

/** Memory the request would cost this agent: nothing if the model is loaded, else its size. */
export function memoryNeeded(agent: AgentView): number {
  return agent.modelLoaded ? 0 : (agent.modelMemoryBytes ?? 0);
}

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

export const memoryFilter: FilterModule = {
  name: 'memory',
  label: 'not enough free memory',
  check: memoryFits,
};
