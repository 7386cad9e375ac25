// Placement policy port: ranks candidate agents for one request. The MCDA scorer will implement it.
import type { Candidate } from './registry.ts';

export interface PlacementRequest {
  model: string;
}

export interface RankedAgent {
  agent: Candidate;
  score: number;
}

export interface Scheduler {
  readonly name: string;
  /** Best first. Agents that cannot take the request are left out. */
  rank(candidates: Candidate[], request: PlacementRequest): RankedAgent[];
}

/**
 * Least-busy: most free slots first (as a share of capacity), loaded model before unloaded,
 * random tie-break so equal agents share the load.
 */
export function leastBusyScheduler(random: () => number = Math.random): Scheduler {
  return {
    name: 'least-busy',
    rank(candidates) {
      return candidates
        .filter((a) => a.reservedJobs < a.maxJobs)
        .map((agent) => ({
          agent,
          score:
            (agent.maxJobs - agent.reservedJobs) / agent.maxJobs + (agent.modelLoaded ? 0.01 : 0),
          tie: random(),
        }))
        .sort((a, b) => b.score - a.score || a.tie - b.tie)
        .map(({ agent, score }) => ({ agent, score }));
    },
  };
}
