// The MCDA policy: filters, then a weighted sum of scorers, then the highest score (random tie-break).
import { applyFilters } from './apply-filters.ts';
import {
  defaultWeights,
  describeScorers,
  findScorer,
  registeredFilters,
  registeredScorers,
} from './registry.ts';
import { poolStats } from './scorers/pool.ts';
import type { Decision, FilterModule, Policy, ScoredAgent, Weights } from './types.ts';

/** Degraded agents stay routable at half their score. */
export const DEGRADED_FACTOR = 0.5;

/**
 * Weights default to each registered scorer's own; filters to the registered ones. Both are read
 * when the policy is created.
 */
export function mcdaPolicy(
  opts: { weights?: Weights; filters?: readonly FilterModule[]; random?: () => number } = {},
): Policy {
  const weights = opts.weights ?? defaultWeights();
  const active = Object.keys(weights)
    .filter((k) => (weights[k] ?? 0) > 0)
    .map((name) => {
      const scorer = findScorer(name);
      if (!scorer) throw new Error(`mcda: unknown scorer '${name}'; known: ${describeScorers()}`);
      return { name, score: scorer.score, explain: scorer.explain, weight: weights[name] ?? 0 };
    });
  const total = active.reduce((s, k) => s + k.weight, 0);
  const filters = opts.filters ?? registeredFilters();
  const random = opts.random ?? Math.random;
  return {
    name: 'mcda',
    decide(agents, req, ctx): Decision {
      const { kept, excluded } = applyFilters(agents, filters, req, ctx);
      const pool = poolStats(kept);
      const scored = kept.map((agent) => {
        const components: ScoredAgent['components'] = {};
        let details: ScoredAgent['details'];
        let sum = 0;
        for (const k of active) {
          const v = k.score(agent, req, pool);
          components[k.name] = Math.round(v * 1000) / 1000;
          sum += k.weight * v;
          if (k.explain) details = { ...details, ...k.explain(agent, req) };
        }
        const health = agent.state === 'degraded' ? DEGRADED_FACTOR : 1;
        const score = total > 0 ? (sum / total) * health : 0;
        return { agent, components, ...(details ? { details } : {}), score, tie: random() };
      });
      scored.sort((a, b) => b.score - a.score || a.tie - b.tie);
      return {
        policy: 'mcda',
        ranked: scored.map(({ tie: _, ...r }) => r),
        excluded,
      };
    },
  };
}

/**
 * Parses "memory=0.4,slots=0.3,rtt=0.2,performance=0.1" (SCHEDULER_WEIGHTS): every registered
 * scorer, those not named at 0. Unset: each scorer's default weight.
 */
export function parseWeights(text: string | undefined): Record<string, number> {
  if (!text) return defaultWeights();
  const out: Record<string, number> = Object.fromEntries(
    registeredScorers().map((s) => [s.name, 0]),
  );
  for (const part of text.split(',')) {
    const [key, value] = part.split('=').map((s) => s.trim());
    if (!key || !Object.hasOwn(out, key))
      throw new Error(`SCHEDULER_WEIGHTS: unknown scorer '${key}'; known: ${describeScorers()}`);
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0)
      throw new Error(`SCHEDULER_WEIGHTS: bad weight for ${key}: '${value}'`);
    out[key] = n;
  }
  if (Object.values(out).every((v) => v === 0))
    throw new Error('SCHEDULER_WEIGHTS: all weights are zero');
  return out;
}
