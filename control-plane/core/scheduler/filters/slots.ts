// Filter: the agent has a job slot that no open lease holds.
import type { Filter, FilterModule } from '../types.ts';

export const hasFreeSlot: Filter = (agent) =>
  agent.reservedJobs < agent.maxJobs ? null : `all ${agent.maxJobs} slots busy`;

export const slotsFilter: FilterModule = {
  name: 'slots',
  label: 'all slots busy',
  check: hasFreeSlot,
};
