// A short-lived in-process copy of the scheduler's agent views, so a decision does not re-read a
// thousand rows. It only steers the ranking: the guarded INSERT that takes a lease is still the
// truth, and a decision that finds nobody on cached data is retried on fresh data.
import type { AgentView } from './scheduler/types.ts';
import type { AgentRegistry } from './storage/types.ts';

export class ViewCache {
  private readonly byModel = new Map<string, { at: number; views: AgentView[] }>();
  private readonly reading = new Set<string>();

  /**
   * ttlMs 0 disables caching (every decision reads the database). `readBehind` (Node): a copy up to
   * two TTLs old is still used, and the database is read after the decision, off its path — a
   * 1,000-agent read takes tens of ms. Only in a process that outlives its requests (not Workers).
   */
  constructor(
    private readonly ttlMs: number,
    private readonly options: { readBehind?: boolean } = {},
  ) {}

  async get(
    agents: AgentRegistry,
    model: string,
    now: number,
    fresh = false,
  ): Promise<{ views: AgentView[]; cached: boolean }> {
    const hit = this.byModel.get(model);
    if (!fresh && hit && now >= hit.at) {
      const age = now - hit.at;
      if (age < this.ttlMs) return { views: hit.views, cached: true };
      if (this.options.readBehind && age < 2 * this.ttlMs) {
        this.readBehind(agents, model, now);
        return { views: hit.views, cached: true };
      }
    }
    const views = await agents.views(model, now);
    if (this.ttlMs > 0) this.byModel.set(model, { at: now, views });
    return { views, cached: false };
  }

  private readBehind(agents: AgentRegistry, model: string, now: number): void {
    if (this.reading.has(model)) return;
    this.reading.add(model);
    setTimeout(() => {
      agents
        .views(model, now)
        .then((views) => {
          if ((this.byModel.get(model)?.at ?? -1) < now)
            this.byModel.set(model, { at: now, views });
        })
        .catch(() => this.byModel.delete(model)) // the next decision reads it itself
        .finally(() => this.reading.delete(model));
    }, 0);
  }

  /** This process reserved (+1) or released (−1) a slot: keep the copies in step. */
  adjustSlots(agentId: string, delta: 1 | -1): void {
    for (const { views } of this.byModel.values()) {
      for (const v of views) {
        if (v.id === agentId) v.reservedJobs = Math.max(0, v.reservedJobs + delta);
      }
    }
  }

  /**
   * One agent's row changed in the database (a heartbeat write, registration, drain, breaker,
   * offline): re-read that agent alone and put it in place in every cached model, so a fleet's
   * heartbeats do not empty the cache for everyone (1,000 agents write about 67 heartbeats a second).
   */
  async refreshAgent(agents: AgentRegistry, agentId: string, now: number): Promise<void> {
    if (this.byModel.size === 0) return;
    const rows = await agents.viewsOfAgent(agentId, now);
    for (const [model, entry] of this.byModel) {
      const fresh = rows.find((r) => r.model === model)?.view;
      const at = entry.views.findIndex((v) => v.id === agentId);
      if (at === -1 && !fresh) continue;
      // A new array: a decision in flight keeps ranking the one it read.
      const views = entry.views.filter((v) => v.id !== agentId);
      if (fresh) views.splice(at === -1 ? views.length : at, 0, fresh);
      this.byModel.set(model, { at: entry.at, views });
    }
  }

  /**
   * One agent's heartbeat changed only fields this process knows the new values of (what it wrote,
   * its open leases counted): put them in place without reading the database.
   */
  patchAgent(agentId: string, fields: Partial<AgentView>): void {
    for (const { views } of this.byModel.values()) {
      for (const v of views) if (v.id === agentId) Object.assign(v, fields);
    }
  }

  /** A job report said what the agent's engine holds now (written with it, docs/adr/0013). */
  setPrefixes(agentId: string, prefixes: readonly string[]): void {
    for (const { views } of this.byModel.values()) {
      for (const v of views) if (v.id === agentId) v.prefixes = new Set(prefixes);
    }
  }

  /** Many agents may have changed at once (the maintenance sweep): drop every copy. */
  invalidate(): void {
    this.byModel.clear();
  }
}
