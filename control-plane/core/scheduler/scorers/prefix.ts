// Scorer: share of the request's prefix the agent's engine already holds (prefix-cache affinity),
// with bounded load: an agent that this request would fill past PREFIX_MAX_LOAD gets no bonus.
import { matchPrefix } from '../../../../protocol/prefix-digest.ts';
import type { AgentView, PlacementRequest, Scorer, ScorerModule } from '../types.ts';

/** Default share of an agent's slots, counting the request, above which it loses the bonus. */
export const DEFAULT_PREFIX_MAX_LOAD = 0.75;

/** Characters and entries of the request's chain the agent holds; null when the request has none. */
export function prefixMatch(agent: AgentView, req: PlacementRequest) {
  if (!req.prefix?.length) return null;
  return matchPrefix(req.prefix, agent.prefixes ?? new Set());
}

/** The agent would be busier than the bound with this request: one hot prefix must not pile up. */
export function overPrefixLoad(agent: AgentView, req: PlacementRequest): boolean {
  const bound = req.prefixMaxLoad ?? DEFAULT_PREFIX_MAX_LOAD;
  return agent.maxJobs <= 0 || (agent.reservedJobs + 1) / agent.maxJobs > bound;
}

/** Matched share of the prompt's characters; 0.5 (neutral) for a request without a digest. */
export const prefixScore: Scorer = (agent, req) => {
  const match = prefixMatch(agent, req);
  if (!match) return 0.5;
  return overPrefixLoad(agent, req) ? 0 : match.share;
};

export const prefixScorer: ScorerModule = {
  name: 'prefix',
  label: 'share of the prompt prefix already in its cache',
  defaultWeight: 0.5,
  score: prefixScore,
  // The matched length per candidate, in decision logs and `/v1/route {"debug": true}`.
  explain: (agent, req): Record<string, number> => {
    const match = prefixMatch(agent, req);
    return match ? { prefixChars: match.chars, prefixEntries: match.entries } : {};
  },
};
