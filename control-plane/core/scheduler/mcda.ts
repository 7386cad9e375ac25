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
import {
  type AgentView,
  type Decision,
  type FilterModule,
  type Policy,
  RANKED_MAX,
  type ScoredAgent,
  type Weights,
} from './types.ts';

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
      // Every candidate is scored (numbers only); the breakdown is built for the best RANKED_MAX,
      // the only ones a decision walks, logs or returns (a 1,000-agent fleet costs no more objects
      // than a 16-agent one).
      const scores = new Float64Array(kept.length);
      const ties = new Float64Array(kept.length);
      for (let i = 0; i < kept.length; i++) {
        const agent = kept[i] as AgentView;
        let sum = 0;
        for (const k of active) sum += k.weight * k.score(agent, req, pool);
        const health = agent.state === 'degraded' ? DEGRADED_FACTOR : 1;
        scores[i] = total > 0 ? (sum / total) * health : 0;
        ties[i] = random();
      }
      const ranked = bestFirst(scores, ties, RANKED_MAX).map((i) => {
        const agent = kept[i] as AgentView;
        const components: ScoredAgent['components'] = {};
        let details: ScoredAgent['details'];
        for (const k of active) {
          components[k.name] = Math.round(k.score(agent, req, pool) * 1000) / 1000;
          if (k.explain) details = { ...details, ...k.explain(agent, req) };
        }
        return { agent, components, ...(details ? { details } : {}), score: scores[i] as number };
      });
      return { policy: 'mcda', ranked, candidates: kept.length, excluded };
    },
  };
}

/**
 * Indices of the `limit` highest scores, best first; equal scores in the order of their `ties`
 * (random draws), as a full sort by (score desc, tie asc) would put them. One pass, insertion into
 * a short sorted list: O(candidates × limit) at worst, about O(candidates) in practice.
 */
export function bestFirst(scores: Float64Array, ties: Float64Array, limit: number): number[] {
  const top: number[] = [];
  const before = (a: number, b: number) =>
    (scores[a] as number) > (scores[b] as number) ||
    (scores[a] === scores[b] && (ties[a] as number) < (ties[b] as number));
  for (let i = 0; i < scores.length; i++) {
    if (top.length === limit && !before(i, top[limit - 1] as number)) continue;
    let at = top.length === limit ? limit - 1 : top.length;
    while (at > 0 && before(i, top[at - 1] as number)) at--;
    top.splice(at, 0, i);
    if (top.length > limit) top.pop();
  }
  return top;
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
