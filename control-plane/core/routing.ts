// Routes a request in two steps: pick-and-lease (a scheduler decision, then a slot lease — the
// ticket row — on the first ranked agent that takes one) and issue-ticket (sign it). Logs every
// decision with its reasons.
import { breakerAdmitsAt, reserveThroughBreaker } from './breakers/admission.ts';
import { effectiveState } from './breakers/health.ts';
import { liveCutoff } from './config.ts';
import type { Deps } from './deps.ts';
import { ApiError } from './errors.ts';
import { noEvents } from './events.ts';
import { slotsFilter } from './scheduler/filters/slots.ts';
import { filterLabel } from './scheduler/registry.ts';
import type { AgentView, Decision, Exclusion, PlacementRequest } from './scheduler/types.ts';
import { decisionSummary } from './timeline.ts';

export interface RouteDecision {
  agent: { id: string; url: string };
  ticket: string;
  jti: string;
  expiresAt: number;
  fallbacks: { id: string; url: string; score: number }[];
  scheduler: string;
  decision: Decision;
}

export type RouteRequest = PlacementRequest & {
  maxTokens: number;
  client: string;
  ticketTtlMs: number;
  /** Agents this request already failed on (failover): a preference, not a filter. */
  exclude?: readonly string[] | undefined;
  /** OpenAI's `user` (the client's end user), logged with the decision. */
  user?: string | undefined;
};

/** The lease a pick takes: its ticket id, issue time and expiry (the ticket's too). */
export interface LeaseTerms {
  jti: string;
  now: number;
  expiresAt: number;
}

export interface Leased {
  agent: AgentView;
  /** The agent's registration epoch, read with the lease (the ticket's `reg`). */
  registration: number;
}

export interface Picked {
  /** How many agents list the model, in any state (0: the model does not exist). */
  listed: number;
  decision: Decision;
  /** Undefined: no ranked agent could take the lease. */
  leased?: Leased | undefined;
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

/** Agents left out, counted by the filter that excluded them. */
function excludedByFilter(decision: Decision): Record<string, number> {
  const byFilter: Record<string, number> = {};
  for (const e of decision.excluded) byFilter[e.filter] = (byFilter[e.filter] ?? 0) + 1;
  return byFilter;
}

/** The decision's log line and its events (a decision, and the lease it took). */
function logDecision(
  deps: Deps,
  requestId: string,
  req: RouteRequest,
  decision: Decision,
  chosen: string | null,
  startedAt: number,
) {
  const byFilter = excludedByFilter(decision);
  const events = deps.events ?? noEvents;
  events.emit({
    type: 'decision',
    policy: decision.policy,
    model: req.model,
    outcome: chosen ? 'routed' : 'no_agent',
    agent: chosen,
    candidates: decision.candidates,
    excludedBy: byFilter,
  });
  if (chosen) events.emit({ type: 'lease', change: 'taken', agent: chosen, count: 1 });
  deps.log.info(chosen ? 'MCDA agent selected' : 'MCDA no agent available', {
    requestId,
    model: req.model,
    ...(req.user ? { user: req.user } : {}),
    policy: decision.policy,
    chosen,
    candidates: decision.ranked.slice(0, LOGGED_CANDIDATES).map((r) => ({
      agent: r.agent.id,
      score: Math.round(r.score * 1000) / 1000,
      ...r.components,
      ...r.details,
    })),
    moreCandidates: Math.max(
      0,
      decision.candidates - Math.min(decision.ranked.length, LOGGED_CANDIDATES),
    ),
    excluded: decision.excluded.slice(0, LOGGED_CANDIDATES),
    excludedByFilter: byFilter,
    // From the request's arrival in routeRequest to its ticket signed (or the refusal): the
    // in-process decision time bench/live-fleet.ts reads.
    decisionMs: Math.round((performance.now() - startedAt) * 100) / 100,
  });
}

export async function routeRequest(deps: Deps, req: RouteRequest): Promise<RouteDecision> {
  const startedAt = performance.now();
  const now = deps.clock.now();
  const terms: LeaseTerms = {
    jti: deps.newId?.() ?? crypto.randomUUID(),
    now,
    expiresAt: now + req.ticketTtlMs,
  };
  const { listed, decision, leased } = await pickAndLease(deps, req, terms);
  if (listed === 0) {
    throw new ApiError('model_not_found', `The model '${req.model}' does not exist`, {
      param: 'model',
    });
  }
  deps.scoreboard?.record(decision, req.model, now, {
    requestId: terms.jti,
    chosen: leased?.agent.id ?? null,
  });
  if (!leased) {
    logDecision(deps, terms.jti, req, decision, null, startedAt);
    throw noAgentAvailable(req.model, decision);
  }
  const { agent } = leased;
  const ticket = await issueTicket(deps, req, leased, terms);
  logDecision(deps, terms.jti, req, decision, agent.id, startedAt);
  return {
    agent: { id: agent.id, url: agent.url },
    ticket,
    jti: terms.jti,
    expiresAt: terms.expiresAt,
    fallbacks: decision.ranked
      .filter((r) => r.agent.id !== agent.id)
      .map((r) => ({ id: r.agent.id, url: r.agent.url, score: r.score })),
    scheduler: decision.policy,
    decision,
  };
}

/**
 * Pick-and-lease: decides among the agents that list the model, then takes a slot lease on the
 * first ranked agent that gives one. When cached views found nobody free, the views are read
 * again from the database and decided once more: the database has the last word.
 */
export async function pickAndLease(
  deps: Deps,
  req: RouteRequest,
  terms: LeaseTerms,
): Promise<Picked> {
  let { all, cached, decision } = await decide(deps, req, terms.now, false);
  let leased = all.length > 0 ? await reserveFirst(deps, req, decision, terms) : undefined;
  if (!leased && cached) {
    ({ all, decision } = await decide(deps, req, terms.now, true));
    leased = await reserveFirst(deps, req, decision, terms);
  }
  return { listed: all.length, decision, leased };
}

/** Issue-ticket: signs the ticket for a lease taken by pickAndLease (same jti, same expiry). */
export function issueTicket(
  deps: Pick<Deps, 'signer'>,
  req: Pick<RouteRequest, 'client' | 'model' | 'maxTokens'>,
  leased: Leased,
  terms: LeaseTerms,
): Promise<string> {
  return deps.signer.sign({
    sub: req.client,
    aud: leased.agent.id,
    jti: terms.jti,
    model: req.model,
    maxTokens: req.maxTokens,
    issuedAtMs: terms.now,
    expiresAtMs: terms.expiresAt,
    registration: leased.registration,
  });
}

async function loadViews(deps: Deps, model: string, now: number, fresh: boolean) {
  const { store } = deps;
  return deps.views
    ? deps.views.get(store.agents, model, now, fresh)
    : { views: await store.agents.views(model, now), cached: false };
}

/**
 * Leaves out excluded agents unless nobody else serves the model; derives late-heartbeat health
 * (a copy only of the views whose state it changes: the others are ranked as cached).
 */
function prepare(all: AgentView[], req: RouteRequest, now: number, config: Deps['config']) {
  const others = req.exclude?.length ? all.filter((v) => !req.exclude?.includes(v.id)) : all;
  return (others.length > 0 ? others : all).map((v) => {
    const state = effectiveState(v, now, config);
    return state === v.state ? v : { ...v, state };
  });
}

/** One scheduler decision on the model's agents (cached views unless `fresh`). */
async function decide(deps: Deps, req: RouteRequest, now: number, fresh: boolean) {
  const { config } = deps;
  const { views: all, cached } = await loadViews(deps, req.model, now, fresh);
  const views = prepare(all, req, now, config);
  const decision = deps.scheduler.decide(views, req, {
    now,
    liveAfter: liveCutoff(config, now),
    breakerAdmits: breakerAdmitsAt(now, config.breaker),
  });
  return { all, cached, decision };
}

/** Walks the ranking until one guarded INSERT takes a lease (through the agent's breaker). */
async function reserveFirst(
  deps: Deps,
  req: RouteRequest,
  d: Decision,
  { jti, now, expiresAt }: LeaseTerms,
): Promise<Leased | undefined> {
  const { store, config } = deps;
  const liveAfter = liveCutoff(config, now);
  // Kept on the ticket row by the same INSERT (GET /v1/requests/:id): no extra row written.
  const summary = JSON.stringify(decisionSummary(d, req.exclude));
  for (const choice of d.ranked) {
    const agent = choice.agent;
    const lease = {
      jti,
      agentId: agent.id,
      model: req.model,
      client: req.client,
      issuedAt: now,
      expiresAt,
      claimUntil: now + config.leaseClaimWindowMs,
      decision: summary,
    };
    const registration = await reserveThroughBreaker(
      store.breakers,
      agent,
      now,
      config.breaker,
      () => store.tickets.takeLease(lease, liveAfter),
    );
    if (registration === undefined) continue;
    deps.views?.adjustSlots(agent.id, 1);
    return { agent, registration };
  }
  return undefined;
}

function noAgentAvailable(model: string, decision: Decision): ApiError {
  const why =
    decision.ranked.length > 0
      ? `${decision.ranked.length} candidate(s) filled up while reserving`
      : summarizeExclusions(decision.excluded);
  return new ApiError(
    'no_agent_available',
    `No agent can take a request for '${model}' now: ${why}`,
    {
      // Slots free up within a claim window or a job: a short wait. No capacity at all: longer.
      retryAfterSeconds:
        decision.ranked.length > 0 || decision.excluded.some((e) => e.filter === slotsFilter.name)
          ? 1
          : 5,
    },
  );
}
