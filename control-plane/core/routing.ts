// Picks an agent for a request (scheduler policy), takes a slot lease (the ticket row) and signs
// the ticket; logs every decision with its reasons.
import { effectiveState } from './breakers/health.ts';
import { admits, CLOSED, phaseOf } from './breakers/policy.ts';
import { claimProbe, releaseProbe } from './breakers/store.ts';
import { liveCutoff } from './config.ts';
import type { Deps } from './deps.ts';
import { ApiError } from './errors.ts';
import { takeLease } from './leases.ts';
import { loadAgentViews } from './registry.ts';
import { slotsFilter } from './scheduler/filters/slots.ts';
import { filterLabel } from './scheduler/registry.ts';
import type { AgentView, Decision, Exclusion, PlacementRequest } from './scheduler/types.ts';

export interface RouteDecision {
  agent: { id: string; url: string };
  ticket: string;
  jti: string;
  expiresAt: number;
  fallbacks: { id: string; url: string; score: number }[];
  scheduler: string;
  decision: Decision;
}

const LOGGED_CANDIDATES = 10;

/** "2 offline, 1 all slots busy" — why nobody could take the request. */
export function summarizeExclusions(excluded: readonly Exclusion[]): string {
  const counts = new Map<string, number>();
  for (const e of excluded) {
    const label = filterLabel(e.filter);
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts].map(([label, n]) => `${n} ${label}`).join(', ');
}

function logDecision(deps: Deps, model: string, decision: Decision, chosen: string | null) {
  const byFilter: Record<string, number> = {};
  for (const e of decision.excluded) byFilter[e.filter] = (byFilter[e.filter] ?? 0) + 1;
  deps.log.info(chosen ? 'MCDA agent selected' : 'MCDA no agent available', {
    model,
    policy: decision.policy,
    chosen,
    candidates: decision.ranked.slice(0, LOGGED_CANDIDATES).map((r) => ({
      agent: r.agent.id,
      score: Math.round(r.score * 1000) / 1000,
      ...r.components,
    })),
    moreCandidates: Math.max(0, decision.ranked.length - LOGGED_CANDIDATES),
    excluded: decision.excluded.slice(0, LOGGED_CANDIDATES),
    excludedByFilter: byFilter,
  });
}

export async function routeRequest(
  deps: Deps,
  req: PlacementRequest & {
    maxTokens: number;
    client: string;
    ticketTtlMs: number;
    /** Agents this request already failed on (failover): a preference, not a filter. */
    exclude?: readonly string[] | undefined;
  },
): Promise<RouteDecision> {
  const { db, clock, config } = deps;
  const now = clock.now();
  const liveAfter = liveCutoff(config, now);
  const load = async (fresh: boolean) =>
    deps.views
      ? deps.views.get(db, req.model, now, fresh)
      : { views: await loadAgentViews(db, req.model, now), cached: false };
  /** Leaves out excluded agents unless nobody else serves the model; derives late-heartbeat health. */
  const prepare = (all: AgentView[]) => {
    const others = req.exclude?.length ? all.filter((v) => !req.exclude?.includes(v.id)) : all;
    return (others.length > 0 ? others : all).map((v) => ({
      ...v,
      state: effectiveState(v, now, config),
    }));
  };
  const decide = async (fresh: boolean) => {
    const { views: all, cached } = await load(fresh);
    const views = prepare(all);
    const byId = new Map(views.map((v) => [v.id, v]));
    const decision = deps.scheduler.decide(views, req, {
      now,
      liveAfter,
      breakerAdmits: (id) => admits(byId.get(id)?.breaker ?? CLOSED, now, config.breaker),
    });
    return { all, cached, decision };
  };
  const jti = deps.newId?.() ?? crypto.randomUUID();
  const expiresAt = now + req.ticketTtlMs;
  /** Walks the ranking until one guarded INSERT takes a lease (and, half-open, a probe). */
  const reserveFirst = async (d: Decision) => {
    for (const choice of d.ranked) {
      const agent = choice.agent;
      // A half-open breaker admits a few probes, counted atomically across isolates.
      const probe = phaseOf(agent.breaker ?? CLOSED, now) === 'half-open';
      if (probe && !(await claimProbe(db, agent.id, now, config.breaker))) continue;
      const lease = {
        jti,
        agentId: agent.id,
        model: req.model,
        client: req.client,
        issuedAt: now,
        expiresAt,
        claimUntil: now + config.leaseClaimWindowMs,
      };
      const registration = await takeLease(db, lease, liveAfter);
      if (registration === undefined) {
        if (probe) await releaseProbe(db, agent.id);
        continue;
      }
      deps.views?.adjustSlots(agent.id, 1);
      return { agent, registration };
    }
    return undefined;
  };
  let { all, cached, decision } = await decide(false);
  let reserved = all.length > 0 ? await reserveFirst(decision) : undefined;
  if (!reserved && cached) {
    // Cached views found nobody free; the database has the last word.
    ({ all, decision } = await decide(true));
    reserved = await reserveFirst(decision);
  }
  const agent = reserved?.agent;
  if (all.length === 0) {
    throw new ApiError('model_not_found', `The model '${req.model}' does not exist`, {
      param: 'model',
    });
  }
  deps.scoreboard?.record(decision, req.model, now);

  if (agent && reserved) {
    const ticket = await deps.signer.sign({
      sub: req.client,
      aud: agent.id,
      jti,
      model: req.model,
      maxTokens: req.maxTokens,
      issuedAtMs: now,
      expiresAtMs: expiresAt,
      registration: reserved.registration,
    });
    logDecision(deps, req.model, decision, agent.id);
    return {
      agent: { id: agent.id, url: agent.url },
      ticket,
      jti,
      expiresAt,
      fallbacks: decision.ranked
        .filter((r) => r.agent.id !== agent?.id)
        .map((r) => ({ id: r.agent.id, url: r.agent.url, score: r.score })),
      scheduler: decision.policy,
      decision,
    };
  }
  logDecision(deps, req.model, decision, null);
  const why =
    decision.ranked.length > 0
      ? `${decision.ranked.length} candidate(s) filled up while reserving`
      : summarizeExclusions(decision.excluded);
  throw new ApiError(
    'no_agent_available',
    `No agent can take a request for '${req.model}' now: ${why}`,
    {
      // Slots free up within a claim window or a job: a short wait. No capacity at all: longer.
      retryAfterSeconds:
        decision.ranked.length > 0 || decision.excluded.some((e) => e.filter === slotsFilter.name)
          ? 1
          : 5,
    },
  );
}
