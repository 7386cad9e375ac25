// The scheduler: pick a policy by name (SCHEDULER) with weights (SCHEDULER_WEIGHTS).
import {
  leastLoadedPolicy,
  powerOfTwoPolicy,
  randomPolicy,
  roundRobinPolicy,
} from './baselines.ts';
import { mcdaPolicy, parseWeights } from './mcda.ts';
import type { Policy } from './types.ts';

export { mcdaPolicy, parseWeights } from './mcda.ts';
export {
  defaultWeights,
  registeredFilters,
  registeredScorers,
  registerFilter,
  registerScorer,
} from './registry.ts';
export type * from './types.ts';

export const POLICY_NAMES = [
  'mcda',
  'round-robin',
  'random',
  'least-loaded',
  'power-of-two',
] as const;

export function createPolicy(name: string | undefined, weights: string | undefined): Policy {
  switch (name || 'mcda') {
    case 'mcda':
      return mcdaPolicy({ weights: parseWeights(weights) });
    case 'round-robin':
      return roundRobinPolicy();
    case 'random':
      return randomPolicy();
    case 'least-loaded':
      return leastLoadedPolicy();
    case 'power-of-two':
      return powerOfTwoPolicy();
    default:
      throw new Error(`SCHEDULER: unknown policy '${name}' (${POLICY_NAMES.join(', ')})`);
  }
}
