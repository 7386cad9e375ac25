// The MCDA policy: filters, then a weighted sum of scorers, then the highest score (random tie-break).
import { applyFilters, DEFAULT_FILTERS, type NamedFilter } from './filters.ts';
import { poolStats, SCORERS } from './scorers.ts';
import type { Decision, Policy, ScoredAgent, ScorerName, Weights } from './types.ts';

/** The original design's weights: free memory 40%, free slots 30%, RTT 20%, performance 10%. */
export const DEFAULT_WEIGHTS: Required<Weights> = {
  memory: 0.4,
  slots: 0.3,
  rtt: 0.2,
  performance: 0.1,
};

/** Degraded agents stay routable at half their score. */
export const DEGRADED_FACTOR = 0.5;

export function mcdaPolicy(
  opts: { weights?: Weights; filters?: readonly NamedFilter[]; random?: () => number } = {},
): Policy {
  const weights = opts.weights ?? DEFAULT_WEIGHTS;
  const active = (Object.keys(weights) as ScorerName[]).filter((k) => (weights[k] ?? 0) > 0);
  const total = active.reduce((s, k) => s + (weights[k] ?? 0), 0);
  const filters = opts.filters ?? DEFAULT_FILTERS;
  const random = opts.random ?? Math.random;
  return {
    name: 'mcda',
    decide(agents, req, ctx): Decision {
      const { kept, excluded } = applyFilters(agents, filters, req, ctx);
      const pool = poolStats(kept);
      const scored = kept.map((agent) => {
        const components: ScoredAgent['components'] = {};
        let sum = 0;
        for (const k of active) {
          const v = SCORERS[k](agent, req, pool);
          components[k] = Math.round(v * 1000) / 1000;
          sum += (weights[k] ?? 0) * v;
        }
        const health = agent.state === 'degraded' ? DEGRADED_FACTOR : 1;
        return { agent, components, score: total > 0 ? (sum / total) * health : 0, tie: random() };
      });
      scored.sort((a, b) => b.score - a.score || a.tie - b.tie);
      return {
        policy: 'mcda',
        ranked: scored.map(({ agent, components, score }) => ({ agent, components, score })),
        excluded,
      };
    },
  };
}

/** Parses "memory=0.4,slots=0.3,rtt=0.2,performance=0.1" (SCHEDULER_WEIGHTS). */
export function parseWeights(text: string | undefined): Required<Weights> {
  if (!text) return { ...DEFAULT_WEIGHTS };
  const out: Required<Weights> = { memory: 0, slots: 0, rtt: 0, performance: 0 };
  for (const part of text.split(',')) {
    const [key, value] = part.split('=').map((s) => s.trim());
    if (!key || !(key in out))
      throw new Error(
        `SCHEDULER_WEIGHTS: unknown scorer '${key}' (memory, slots, rtt, performance)`,
      );
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0)
      throw new Error(`SCHEDULER_WEIGHTS: bad weight for ${key}: '${value}'`);
    out[key as ScorerName] = n;
  }
  if (Object.values(out).every((v) => v === 0))
    throw new Error('SCHEDULER_WEIGHTS: all weights are zero');
  return out;
}
