// Plain data the scheduler works on: agent views in, an explainable decision out.
import type { PrefixEntry } from '../../../protocol/prefix-digest.ts';
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
  /** Prefix-digest hashes its engine holds (docs/adr/0013); absent: unknown. */
  prefixes?: ReadonlySet<string> | undefined;
}

export interface PlacementRequest {
  model: string;
  /** Where the client is (Cloudflare's request.cf), when known. */
  clientLocation?: { latitude: number; longitude: number } | undefined;
  /** The request's prefix digest (protocol/prefix-digest.ts), when it has one. */
  prefix?: readonly PrefixEntry[] | undefined;
  /** Above this share of its slots busy (counting this request) an agent loses the prefix bonus. */
  prefixMaxLoad?: number | undefined;
}

export interface SchedulerContext {
  now: number;
  /** Agents whose last recorded heartbeat is at or before this time are not live. */
  liveAfter: number;
  /** False: the agent's circuit breaker does not admit a request now (../breakers/admission.ts). */
  breakerAdmits(agent: AgentView): boolean;
}

/** A filter returns null to keep the agent, or the reason it is excluded. */
export type Filter = (
  agent: AgentView,
  req: PlacementRequest,
  ctx: SchedulerContext,
) => string | null;

/** Facts about all candidates of one decision, computed once, for scorers that normalise. */
export interface PoolStats {
  maxTokensPerSecond: number;
}

/** A scorer returns a value in [0, 1]; higher is better. */
export type Scorer = (agent: AgentView, req: PlacementRequest, pool: PoolStats) => number;

/** One scorer, declared in its own module (scorers/*.ts) and listed in registry.ts. */
export interface ScorerModule {
  /** The key in SCHEDULER_WEIGHTS, in component scores and in decision logs. */
  readonly name: string;
  /** What it measures, for people (error messages, docs). */
  readonly label: string;
  /** Its weight when SCHEDULER_WEIGHTS is not set (weights are normalised by their sum). */
  readonly defaultWeight: number;
  readonly score: Scorer;
  /** Figures behind the score for people (decision logs, debug breakdowns), by name. */
  readonly explain?: (agent: AgentView, req: PlacementRequest) => Record<string, number>;
}

/** One filter, declared in its own module (filters/*.ts) and listed in registry.ts. */
export interface FilterModule {
  /** Recorded in each exclusion (`filter`) and counted per name in decision logs. */
  readonly name: string;
  /** Why agents were left out, counted in the 503 message: "2 offline or draining". */
  readonly label: string;
  readonly check: Filter;
}

/** Weight per scorer name; a missing name weighs 0. */
export type Weights = Readonly<Record<string, number>>;

export interface ScoredAgent {
  agent: AgentView;
  /** Weighted sum of components, times the health factor. */
  score: number;
  /** Each active scorer's value, by scorer name, rounded to 3 decimals. */
  components: Record<string, number>;
  /** What active scorers explain their value with (e.g. `prefixChars`); absent when none do. */
  details?: Record<string, number>;
}

export interface Exclusion {
  agentId: string;
  /** The name of the filter that excluded the agent. */
  filter: string;
  reason: string;
}

/**
 * Candidates a decision ranks: the lease walks them in order, `/v1/route` returns them as fallbacks
 * and the logs show them. The rest were scored but not kept (`Decision.candidates` counts all).
 */
export const RANKED_MAX = 16;

export interface Decision {
  policy: string;
  /** Best first, at most RANKED_MAX. */
  ranked: ScoredAgent[];
  /** Agents left after the filters (ranked holds the best of them). */
  candidates: number;
  excluded: Exclusion[];
}

export interface Policy {
  readonly name: string;
  decide(agents: readonly AgentView[], req: PlacementRequest, ctx: SchedulerContext): Decision;
}
