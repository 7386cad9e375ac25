// Scorer: share of the agent's memory still free after loading the model (loaded models cost nothing).
import { memoryNeeded } from '../filters/memory.ts';
import type { Scorer, ScorerModule } from '../types.ts';
import { clamp01 } from './pool.ts';

/** Neutral (0.5) when the agent reports no memory figures. */
export const memoryScore: Scorer = (agent) => {
  if (agent.memoryTotalBytes <= 0) return 0.5;
  return clamp01((agent.memoryFreeBytes - memoryNeeded(agent)) / agent.memoryTotalBytes);
};

export const memoryScorer: ScorerModule = {
  name: 'memory',
  label: 'free memory after loading the model',
  defaultWeight: 0.4,
  score: memoryScore,
};
