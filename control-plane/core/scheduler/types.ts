// Plain data the scheduler works on: agent views in, an explainable decision out.
import type { BreakerFields } from '../breakers/policy.ts';

/** What the scheduler knows about one agent for one request (built from the registry). */
export interface AgentView {
  id: string;
  url: string;
  /** healthy | degraded | offline | draining | drained (by an operator) */
  state: string;
  lastHeartbeatAt: number;
  maxJobs: number;
  reservedJobs: number;
  accelerator: 'gpu' | 'cpu';
  memoryFreeBytes: number;
  memoryTotalBytes: number;
  /** The requested model is already loaded on this agent. */
  modelLoaded: boolean;
  /** Memory the model needs once loaded (the agent's estimate or measurement), if known. */
  modelMemoryBytes: number | null;
  /** Agent's measured round trip to the control plane, ms. */
  rttMs: number | null;
  /** Exponentially weighted tokens/s from job reports. */
  tokensPerSecond: number | null;
  latitude: number | null;
  longitude: number | null;
  /** The agent's circuit breaker as stored (absent: closed). */
  breaker?: BreakerFields | undefined;
}

export interface PlacementRequest {
  model: string;
  /** Where the client is (Cloudflare's request.cf), when known. */
  clientLocation?: { latitude: number; longitude: number } | undefined;
}

export interface SchedulerContext {
  now: number;
  /** Agents whose last recorded heartbeat is at or before this time are not live. */
  liveAfter: number;
  /** The circuit-breaker port: false means the agent's breaker does not admit a request now. */
  breakerAdmits(agentId: string): boolean;
}

/** A filter returns null to keep the agent, or the reason it is excluded. */
export type Filter = (
  agent: AgentView,
  req: PlacementRequest,
  ctx: SchedulerContext,
) => string | null;

export type ScorerName = 'memory' | 'slots' | 'rtt' | 'performance';

/** Facts about all candidates of one decision, computed once, for scorers that normalise. */
export interface PoolStats {
  maxTokensPerSecond: number;
}

/** A scorer returns a value in [0, 1]; higher is better. */
export type Scorer = (agent: AgentView, req: PlacementRequest, pool: PoolStats) => number;

export type Weights = Partial<Record<ScorerName, number>>;

export interface ScoredAgent {
  agent: AgentView;
  /** Weighted sum of components, times the health factor. */
  score: number;
  components: Partial<Record<ScorerName, number>>;
}

export interface Exclusion {
  agentId: string;
  /** Which filter excluded the agent. */
  filter: 'live' | 'breaker' | 'memory' | 'slots';
  reason: string;
}

export interface Decision {
  policy: string;
  /** Best first. */
  ranked: ScoredAgent[];
  excluded: Exclusion[];
}

export interface Policy {
  readonly name: string;
  decide(agents: readonly AgentView[], req: PlacementRequest, ctx: SchedulerContext): Decision;
}
