// Scorer: share of the agent's job slots still free.
import type { Scorer, ScorerModule } from '../types.ts';
import { clamp01 } from './pool.ts';

export const slotsScore: Scorer = (agent) =>
  agent.maxJobs > 0 ? clamp01((agent.maxJobs - agent.reservedJobs) / agent.maxJobs) : 0;

export const slotsScorer: ScorerModule = {
  name: 'slots',
  label: 'free job slots',
  defaultWeight: 0.3,
  score: slotsScore,
};
