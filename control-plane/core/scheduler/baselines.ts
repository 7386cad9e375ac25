// Baseline policies peers use (round-robin, random, least-loaded, power of two choices), for the
// fleet simulation and as selectable alternatives. They filter only liveness and breakers.
import { applyFilters } from './apply-filters.ts';
import { breakerFilter } from './filters/breaker.ts';
import { liveFilter } from './filters/live.ts';
import {
  type AgentView,
  type Decision,
  type FilterModule,
  type Policy,
  RANKED_MAX,
  type ScoredAgent,
} from './types.ts';

const BASE_FILTERS: readonly FilterModule[] = [liveFilter, breakerFilter];

function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
  }
  return xs;
}

const load = (a: AgentView) => (a.maxJobs > 0 ? a.reservedJobs / a.maxJobs : 1);

function decision(name: string, ordered: AgentView[], excluded: Decision['excluded']): Decision {
  const n = ordered.length;
  const ranked: ScoredAgent[] = ordered.slice(0, RANKED_MAX).map((agent, i) => ({
    agent,
    score: n > 1 ? 1 - i / n : 1,
    components: {},
  }));
  return { policy: name, ranked, candidates: n, excluded };
}

export function roundRobinPolicy(): Policy {
  let next = 0;
  return {
    name: 'round-robin',
    decide(agents, req, ctx) {
      const { kept, excluded } = applyFilters(agents, BASE_FILTERS, req, ctx);
      const sorted = [...kept].sort((a, b) => a.id.localeCompare(b.id));
      const start = sorted.length ? next++ % sorted.length : 0;
      return decision('round-robin', [...sorted.slice(start), ...sorted.slice(0, start)], excluded);
    },
  };
}

export function randomPolicy(random: () => number = Math.random): Policy {
  return {
    name: 'random',
    decide(agents, req, ctx) {
      const { kept, excluded } = applyFilters(agents, BASE_FILTERS, req, ctx);
      return decision('random', shuffle([...kept], random), excluded);
    },
  };
}

export function leastLoadedPolicy(random: () => number = Math.random): Policy {
  return {
    name: 'least-loaded',
    decide(agents, req, ctx) {
      const { kept, excluded } = applyFilters(agents, BASE_FILTERS, req, ctx);
      const ordered = shuffle([...kept], random).sort((a, b) => load(a) - load(b));
      return decision('least-loaded', ordered, excluded);
    },
  };
}

/** Power of two choices: two agents at random, the less loaded first. */
export function powerOfTwoPolicy(random: () => number = Math.random): Policy {
  return {
    name: 'power-of-two',
    decide(agents, req, ctx) {
      const { kept, excluded } = applyFilters(agents, BASE_FILTERS, req, ctx);
      const [a, b, ...rest] = shuffle([...kept], random);
      const head = a && b ? (load(b) < load(a) ? [b, a] : [a, b]) : a ? [a] : [];
      return decision('power-of-two', [...head, ...rest], excluded);
    },
  };
}
