// What scorers share: facts about all candidates of one decision, computed once, and clamping.
import type { AgentView, PoolStats } from '../types.ts';

export const clamp01 = (x: number) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

export function poolStats(agents: readonly AgentView[]): PoolStats {
  let maxTokensPerSecond = 0;
  for (const a of agents) {
    if (a.tokensPerSecond !== null && a.tokensPerSecond > maxTokensPerSecond)
      maxTokensPerSecond = a.tokensPerSecond;
  }
  return { maxTokensPerSecond };
}
