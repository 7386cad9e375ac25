// A short-lived in-process copy of the scheduler's agent views, so a decision does not re-read a
// thousand rows. It only steers the ranking: the guarded INSERT that takes a lease is still the
// truth, and a decision that finds nobody on cached data is retried on fresh data.
import type { AgentView } from './scheduler/types.ts';
import type { AgentRegistry } from './storage/types.ts';

/** One model's views as read at `at`, and the same views by agent id (for per-agent updates). */
interface Entry {
  at: number;
  views: AgentView[];
  byId: Map<string, AgentView>;
}

const entry = (at: number, views: AgentView[]): Entry => ({
  at,
  views,
  byId: new Map(views.map((v) => [v.id, v])),
});

export class ViewCache {
  private readonly byModel = new Map<string, Entry>();
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
    if (this.ttlMs > 0) this.byModel.set(model, entry(now, views));
    return { views, cached: false };
  }

  private readBehind(agents: AgentRegistry, model: string, now: number): void {
    if (this.reading.has(model)) return;
    this.reading.add(model);
    setTimeout(() => {
      agents
        .views(model, now)
        .then((views) => {
          if ((this.byModel.get(model)?.at ?? -1) < now) this.byModel.set(model, entry(now, views));
        })
        .catch(() => this.byModel.delete(model)) // the next decision reads it itself
        .finally(() => this.reading.delete(model));
    }, 0);
  }

  /** This process reserved (+1) or released (−1) a slot: keep the copies in step. */
  adjustSlots(agentId: string, delta: 1 | -1): void {
    for (const { byId } of this.byModel.values()) {
      const v = byId.get(agentId);
      if (v) v.reservedJobs = Math.max(0, v.reservedJobs + delta);
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
    for (const [model, cached] of this.byModel) {
      const fresh = rows.find((r) => r.model === model)?.view;
      const old = cached.byId.get(agentId);
      if (!old && !fresh) continue;
      // A new array: a decision in flight keeps ranking the one it read.
      const views = old
        ? cached.views.flatMap((v) => (v === old ? (fresh ? [fresh] : []) : [v]))
        : [...cached.views, fresh as AgentView];
      const byId = new Map(cached.byId);
      if (fresh) byId.set(agentId, fresh);
      else byId.delete(agentId);
      this.byModel.set(model, { at: cached.at, views, byId });
    }
  }

  /**
   * One agent's heartbeat changed only fields this process knows the new values of (what it wrote,
   * its open leases counted): put them in place without reading the database.
   */
  patchAgent(agentId: string, fields: Partial<AgentView>): void {
    for (const { byId } of this.byModel.values()) {
      const v = byId.get(agentId);
      if (v) Object.assign(v, fields);
    }
  }

  /** A job report said what the agent's engine holds now (written with it, docs/adr/0013). */
  setPrefixes(agentId: string, prefixes: readonly string[]): void {
    for (const { byId } of this.byModel.values()) {
      const v = byId.get(agentId);
      if (v) v.prefixes = new Set(prefixes);
    }
  }

  /** Many agents may have changed at once (the maintenance sweep): drop every copy. */
  invalidate(): void {
    this.byModel.clear();
  }
}
