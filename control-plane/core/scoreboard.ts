// Remembers each agent's latest scores (in memory, per process or isolate) for GET /v1/status.
import type { Decision, ScoredAgent } from './scheduler/types.ts';

export interface AgentScore {
  at: number;
  model: string;
  score: number;
  rank: number;
  components: ScoredAgent['components'];
}

export class Scoreboard {
  private readonly latest = new Map<string, AgentScore>();
  private readonly excluded = new Map<string, { at: number; model: string; reason: string }>();

  record(decision: Decision, model: string, at: number): void {
    decision.ranked.forEach((r, rank) => {
      this.latest.set(r.agent.id, { at, model, score: r.score, rank, components: r.components });
      this.excluded.delete(r.agent.id);
    });
    for (const e of decision.excluded)
      this.excluded.set(e.agentId, { at, model, reason: e.reason });
  }

  forAgent(id: string) {
    return { lastScore: this.latest.get(id) ?? null, lastExclusion: this.excluded.get(id) ?? null };
  }

  forget(id: string): void {
    this.latest.delete(id);
    this.excluded.delete(id);
  }
}
