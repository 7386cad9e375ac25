// Remembers each agent's latest scores and the latest decisions (in memory, per process or
// isolate) for GET /v1/status and the dashboard.
import type { Decision, ScoredAgent } from './scheduler/types.ts';

export interface AgentScore {
  at: number;
  model: string;
  score: number;
  rank: number;
  components: ScoredAgent['components'];
}

/** A decision as plain data: who was ranked (best first) with their scores, who was left out. */
export interface RecordedDecision {
  at: number;
  /** The ticket id (the request id); absent when the caller had none. */
  requestId: string | null;
  model: string;
  policy: string;
  /** The agent that took the lease; null when nobody could. */
  chosen: string | null;
  ranked: { agentId: string; score: number; components: ScoredAgent['components'] }[];
  excluded: { agentId: string; filter: string; reason: string }[];
}

/** Decisions kept for the dashboard, newest first. */
export const RECENT_DECISIONS = 50;

export class Scoreboard {
  private readonly latest = new Map<string, AgentScore>();
  private readonly excluded = new Map<string, { at: number; model: string; reason: string }>();
  private readonly decisions: RecordedDecision[] = [];

  record(
    decision: Decision,
    model: string,
    at: number,
    outcome: { requestId?: string; chosen?: string | null } = {},
  ): void {
    decision.ranked.forEach((r, rank) => {
      this.latest.set(r.agent.id, { at, model, score: r.score, rank, components: r.components });
      this.excluded.delete(r.agent.id);
    });
    for (const e of decision.excluded)
      this.excluded.set(e.agentId, { at, model, reason: e.reason });
    this.decisions.unshift({
      at,
      requestId: outcome.requestId ?? null,
      model,
      policy: decision.policy,
      chosen: outcome.chosen ?? null,
      ranked: decision.ranked.map((r) => ({
        agentId: r.agent.id,
        score: r.score,
        components: r.components,
      })),
      excluded: decision.excluded.map(({ agentId, filter, reason }) => ({
        agentId,
        filter,
        reason,
      })),
    });
    this.decisions.length = Math.min(this.decisions.length, RECENT_DECISIONS);
  }

  forAgent(id: string) {
    return { lastScore: this.latest.get(id) ?? null, lastExclusion: this.excluded.get(id) ?? null };
  }

  /** The latest decisions, newest first. */
  recent(): readonly RecordedDecision[] {
    return this.decisions;
  }

  forget(id: string): void {
    this.latest.delete(id);
    this.excluded.delete(id);
  }
}
