// Scorer: the agent's measured tokens/s relative to the fastest candidate's.
import type { Scorer, ScorerModule } from '../types.ts';
import { clamp01 } from './pool.ts';

/** Neutral (0.5) for an agent with no job reports yet. */
export const performanceScore: Scorer = (agent, _req, pool) => {
  if (agent.tokensPerSecond === null || agent.tokensPerSecond <= 0) return 0.5;
  return pool.maxTokensPerSecond > 0
    ? clamp01(agent.tokensPerSecond / pool.maxTokensPerSecond)
    : 0.5;
};

export const performanceScorer: ScorerModule = {
  name: 'performance',
  label: 'measured tokens/s',
  defaultWeight: 0.1,
  score: performanceScore,
};
