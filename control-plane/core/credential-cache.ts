// Agent credentials this process has verified against the database, so a heartbeat or job report
// does not read the agents table to authenticate (Node: one process owns the database). Bounded,
// least recently used out first; forgotten at once when this process issues a new credential.
// Workers do not use it: one isolate cannot tell the others that a credential changed.
import { constantTimeEqual } from './secrets.ts';

/** One verified credential hash per agent id; a call matches only if id and hash both do. */
export class CredentialCache {
  private readonly byAgent = new Map<string, string>();
  /** Bumped by every forget/clear: a verification that read the database before is not kept. */
  private epoch = 0;

  /**
   * `hash`: SHA-256 hex, synchronous (node:crypto on Node): WebCrypto's digest is a promise and a
   * trip through the thread pool, the largest cost of an agent call before this cache.
   */
  constructor(
    readonly hash: (text: string) => string,
    private readonly capacity = 50_000,
  ) {}

  /** Read before the database lookup; hand it back to `remember`. */
  get version(): number {
    return this.epoch;
  }

  /** True when this exact hash was verified for this agent and nothing changed since. */
  holds(agentId: string, hash: string): boolean {
    const held = this.byAgent.get(agentId);
    if (held === undefined || !constantTimeEqual(held, hash)) return false;
    // Most recently used last: Map keeps insertion order.
    this.byAgent.delete(agentId);
    this.byAgent.set(agentId, held);
    return true;
  }

  /**
   * Keeps a hash the database just confirmed, unless a credential changed since `version` was read
   * (the lookup may have seen the old one).
   */
  remember(agentId: string, hash: string, version: number): void {
    if (version !== this.epoch) return;
    this.byAgent.delete(agentId);
    this.byAgent.set(agentId, hash);
    if (this.byAgent.size > this.capacity) {
      const oldest = this.byAgent.keys().next().value;
      if (oldest !== undefined) this.byAgent.delete(oldest);
    }
  }

  /** The agent's credential changed (re-registration) or the agent is gone. */
  forget(agentId: string): void {
    this.epoch++;
    this.byAgent.delete(agentId);
  }

  /** Agents were removed in bulk (maintenance): forget everyone. */
  clear(): void {
    this.epoch++;
    this.byAgent.clear();
  }

  get size(): number {
    return this.byAgent.size;
  }
}
