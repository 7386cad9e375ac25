// A request's timeline (GET /v1/requests/:id): the route decision kept on its ticket row, the
// ticket, the agent's admission and its job report. Nothing here writes: the decision summary
// rides in the INSERT that takes the lease, the rest is what the row already holds (ADR 0003).
import type { TicketRow } from '../../schema/tables.ts';
import type { Decision } from './scheduler/types.ts';

/** Candidates and exclusions kept per decision; the rest are counted. */
export const KEPT_PER_DECISION = 10;

/** What a ticket row keeps of the decision that issued it (the `decision` column, JSON). */
export interface DecisionSummary {
  policy: string;
  /** Ranked best first: score in [0, 1] and each scorer's component. */
  candidates: { agent: string; score: number; components: Record<string, number> }[];
  /** Agents left out, with the filter that excluded each and why. */
  excluded: { agent: string; filter: string; reason: string }[];
  /** Candidates and exclusions beyond the first KEPT_PER_DECISION. */
  moreCandidates: number;
  moreExcluded: number;
  /** Agents the client asked to avoid (`exclude`, failover), left out before the decision. */
  avoided: string[];
}

export function decisionSummary(
  decision: Decision,
  avoided: readonly string[] = [],
): DecisionSummary {
  return {
    policy: decision.policy,
    candidates: decision.ranked.slice(0, KEPT_PER_DECISION).map((r) => ({
      agent: r.agent.id,
      score: Math.round(r.score * 1000) / 1000,
      components: r.components,
    })),
    excluded: decision.excluded.slice(0, KEPT_PER_DECISION).map((e) => ({
      agent: e.agentId,
      filter: e.filter,
      reason: e.reason,
    })),
    moreCandidates: Math.max(
      0,
      decision.candidates - Math.min(decision.ranked.length, KEPT_PER_DECISION),
    ),
    moreExcluded: Math.max(0, decision.excluded.length - KEPT_PER_DECISION),
    avoided: avoided.slice(0, KEPT_PER_DECISION),
  };
}

export type TimelineEvent = 'routed' | 'admitted' | 'first_token' | 'ended';

/** The answer of GET /v1/requests/:id; times are milliseconds since the epoch. */
export interface RequestTimeline {
  id: string;
  model: string;
  /** The API key id that made the request ('anonymous' in development mode). */
  keyId: string;
  /** issued | running | success | error | cancelled | rejected | expired | lost */
  state: string;
  /** The final state, or null while the request is open. */
  outcome: string | null;
  decision: (DecisionSummary & { chosen: string }) | null;
  ticket: { agent: string; issuedAt: number; expiresAt: number; claimUntil: number };
  admittedAt: number | null;
  /** Derived from the job report: its end, less its duration, plus its time to first token. */
  firstTokenAt: number | null;
  finishedAt: number | null;
  ttftMs: number | null;
  durationMs: number | null;
  tokensIn: number | null;
  tokensOut: number | null;
  /** The engine's finish reason (`stop`, `length`…) or the agent's error code. */
  finishReason: string | null;
  /** The agent's error, or a client's failure report (`client: …`). */
  error: string | null;
  /** What happened, in order. */
  events: { at: number; event: TimelineEvent; detail?: string }[];
}

const OPEN_STATES = new Set(['issued', 'running']);

function parseDecision(json: string | null): DecisionSummary | null {
  if (!json) return null;
  try {
    return JSON.parse(json) as DecisionSummary;
  } catch {
    return null;
  }
}

export function requestTimeline(row: TicketRow): RequestTimeline {
  const decision = parseDecision(row.decision);
  const outcome = OPEN_STATES.has(row.state) ? null : row.state;
  const firstTokenAt =
    row.finishedAt !== null && row.durationMs !== null && row.ttftMs !== null
      ? Math.round(row.finishedAt - row.durationMs + row.ttftMs)
      : null;
  const events: RequestTimeline['events'] = [
    { at: row.issuedAt, event: 'routed', detail: row.agentId },
  ];
  if (row.admittedAt !== null) events.push({ at: row.admittedAt, event: 'admitted' });
  if (firstTokenAt !== null) events.push({ at: firstTokenAt, event: 'first_token' });
  if (row.finishedAt !== null && outcome !== null) {
    events.push({ at: row.finishedAt, event: 'ended', detail: outcome });
  }
  return {
    id: row.jti,
    model: row.model,
    keyId: row.client,
    state: row.state,
    outcome,
    decision: decision ? { ...decision, chosen: row.agentId } : null,
    ticket: {
      agent: row.agentId,
      issuedAt: row.issuedAt,
      expiresAt: row.expiresAt,
      claimUntil: row.claimUntil,
    },
    admittedAt: row.admittedAt,
    firstTokenAt,
    finishedAt: row.finishedAt,
    ttftMs: row.ttftMs,
    durationMs: row.durationMs,
    tokensIn: row.promptTokens,
    tokensOut: row.completionTokens,
    finishReason: row.finishReason,
    error: row.error,
    events,
  };
}
