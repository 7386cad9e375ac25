// A short-lived in-process copy of the scheduler's agent views, so a decision does not re-read a
// thousand rows. It only steers the ranking: the guarded INSERT that takes a lease is still the
// truth, and a decision that finds nobody on cached data is retried on fresh data.
import type { AgentView } from './scheduler/types.ts';
import type { AgentRegistry } from './storage/types.ts';

export class ViewCache {
  private readonly byModel = new Map<string, { at: number; views: AgentView[] }>();

  /** ttlMs 0 disables caching (every decision reads the database). */
  constructor(private readonly ttlMs: number) {}

  async get(
    agents: AgentRegistry,
    model: string,
    now: number,
    fresh = false,
  ): Promise<{ views: AgentView[]; cached: boolean }> {
    const hit = this.byModel.get(model);
    if (!fresh && hit && now - hit.at < this.ttlMs && now >= hit.at)
      return { views: hit.views, cached: true };
    const views = await agents.views(model, now);
    if (this.ttlMs > 0) this.byModel.set(model, { at: now, views });
    return { views, cached: false };
  }

  /** This process reserved (+1) or released (−1) a slot: keep the copies in step. */
  adjustSlots(agentId: string, delta: 1 | -1): void {
    for (const { views } of this.byModel.values()) {
      for (const v of views) {
        if (v.id === agentId) v.reservedJobs = Math.max(0, v.reservedJobs + delta);
      }
    }
  }

  /** A job report said what the agent's engine holds now (written with it, docs/adr/0013). */
  setPrefixes(agentId: string, prefixes: readonly string[]): void {
    for (const { views } of this.byModel.values()) {
      for (const v of views) if (v.id === agentId) v.prefixes = new Set(prefixes);
    }
  }

  /** Something the views show changed in the database (registration, heartbeat write, upkeep). */
  invalidate(): void {
    this.byModel.clear();
  }
}
