// What the core needs from its database, named for what it does. One implementation today
// (storage/sqlite: drizzle over D1 or better-sqlite3); the contract suites in test/contract/ are the
// specification any other must pass (docs/adr/0011).
import type { AgentModel, AgentStats, EngineLoad, JobReport } from '../../../protocol/agent-api.ts';
import type {
  AgentModelRow,
  AgentRow,
  ApiKeyRow,
  JoinTokenRow,
  TicketRow,
} from '../../../schema/tables.ts';
import type { BreakerConfig, BreakerFields } from '../breakers/policy.ts';
import type { AgentView } from '../scheduler/types.ts';

/** Records as the core reads them (the columns of schema/tables.ts; times in epoch ms). */
export type Agent = AgentRow;
export type AgentModelEntry = AgentModelRow;
export type ApiKey = ApiKeyRow;
export type JoinToken = JoinTokenRow;

/** Agent states that take new work (an operator's drain aside). */
export const ROUTABLE_STATES = ['healthy', 'degraded'] as const;

/** Open ticket states: the job may still run, so the ticket holds its agent's slot. */
export const OPEN_TICKET_STATES = ['issued', 'running'] as const;

export interface AgentRegistration {
  id: string;
  url: string;
  engine: string;
  version: string;
  maxJobs: number;
  models: AgentModel[];
  stats: AgentStats;
  location?: { latitude: number; longitude: number } | undefined;
  /** The join token that admitted it (a created token's id, or 'env'); absent: none (development). */
  joinTokenId?: string | null | undefined;
}

/**
 * Caps a registration must fit under: live agents (not offline, heard from after `liveAfter`)
 * other than the registering id, in all and among those the same join token admitted.
 */
export interface RegistrationRoom {
  liveAfter: number;
  maxAgents: number;
  joinToken?: { id: string; maxAgents: number } | undefined;
}

/** What a written heartbeat stores; `state` only when it changed (an assigned index costs D1). */
export interface HeartbeatWrite {
  stats: AgentStats;
  load?: { queuedJobs?: number | undefined; engine?: EngineLoad | undefined } | undefined;
  reportedJobs: number;
  rttMs: number | null;
  state?: string | undefined;
  /** Prefix-digest hashes the agent holds (comma-separated); undefined: leave as stored. */
  prefixes?: string | undefined;
}

/** Agents and the models they serve. */
export interface AgentRegistry {
  /**
   * Inserts or replaces the agent as a new registration epoch (`now`); its open tickets are lost.
   * With `room`, in one guarded statement: false, and nothing written, when the agent does not fit.
   */
  register(reg: AgentRegistration, now: number, room?: RegistrationRoom): Promise<boolean>;
  get(id: string): Promise<Agent | undefined>;
  list(): Promise<Agent[]>;
  /** Every agent's models. */
  models(): Promise<AgentModelEntry[]>;
  /** Rewrites the agent's model list only when it changed (memory within 5%: unchanged). */
  replaceModels(id: string, models: AgentModel[]): Promise<boolean>;
  writeHeartbeat(id: string, hb: HeartbeatWrite, now: number): Promise<void>;
  /** Offline now, its open tickets lost; false when it was offline already. */
  markOffline(id: string, now: number): Promise<boolean>;
  /** An operator's drain mark (null: undrained); false when no such agent. */
  setDrained(id: string, drainedAt: number | null): Promise<boolean>;
  /**
   * Folds a job's tokens/s into the agent's average: weight × sample + (1 − weight) × average; in
   * the same row write, what its engine holds after the job (`prefixes`, comma-separated) if given.
   */
  addThroughput(
    id: string,
    tokensPerSecond: number,
    weight: number,
    prefixes?: string | undefined,
  ): Promise<void>;
  /** Every agent that lists `model`, in any state, with its open leases at `now`. */
  views(model: string, now: number): Promise<AgentView[]>;
  /** One agent's views, one per model it lists, with its open leases at `now`. */
  viewsOfAgent(id: string, now: number): Promise<{ model: string; view: AgentView }[]>;
  /** Models of routable, undrained agents heard from after `liveAfter`, one row per agent. */
  routableModels(
    liveAfter: number,
  ): Promise<
    { model: string; memoryBytes: number | null; quantization: string | null; since: number }[]
  >;
  hasRoutable(liveAfter: number): Promise<boolean>;
  /**
   * Agents other than `except`, not offline, heard from after `liveAfter`; with `joinTokenId`, only
   * those whose current registration that join token admitted.
   */
  countLive(liveAfter: number, except: string, joinTokenId?: string): Promise<number>;
  /** Live agents silent since `liveAfter` go offline, their open tickets lost; returns how many. */
  markSilentOffline(liveAfter: number, now: number): Promise<number>;
  /** Forgets offline agents last heard from before `before` (their ticket history stays). */
  removeOffline(before: number): Promise<number>;
}

/** A slot lease asked for: the ticket row that will hold it (docs/adr/0009). */
export interface LeaseRequest {
  jti: string;
  agentId: string;
  model: string;
  client: string;
  issuedAt: number;
  expiresAt: number;
  claimUntil: number;
  /** The decision that chose the agent, JSON (control-plane/core/timeline.ts), kept on the row. */
  decision?: string | null | undefined;
}

/** An open ticket as heartbeat reconciliation needs it. */
export interface OpenLease {
  jti: string;
  state: string;
  issuedAt: number;
  admittedAt: number | null;
  claimUntil: number;
}

export type Confirmation = 'admitted' | 'unknown' | 'finished' | 'lapsed';

/** One time bucket of request activity (the dashboard's charts). */
export interface ActivityBucket {
  /** The bucket's start, epoch ms. */
  start: number;
  /** Tickets issued in the bucket, by their state now (open ones: 'issued' or 'running'). */
  issuedByState: Record<string, number>;
  /** Completion tokens of the tickets finished in the bucket. */
  completionTokens: number;
  /** Nearest-rank TTFT percentiles of the tickets finished in the bucket; null when none said. */
  ttftP50Ms: number | null;
  ttftP95Ms: number | null;
}

/** Tickets: each is its agent's slot lease from issue to job report (docs/adr/0009). */
export interface TicketStore {
  /**
   * Takes a slot on the agent in one atomic step: none when it is full, not routable, drained or
   * silent since `liveAfter`. Returns the agent's registration epoch, or undefined.
   */
  takeLease(lease: LeaseRequest, liveAfter: number): Promise<number | undefined>;
  /** The agent admitted the job: held until the report (a lapsed one only if a slot is free). */
  confirmLease(agentId: string, jti: string, now: number): Promise<Confirmation>;
  /**
   * The agent's running jobs are the truth: listed tickets are confirmed; confirmed ones no longer
   * listed, admitted before `now - graceMs`, are lost.
   */
  reconcileLeases(
    agentId: string,
    runningJobs: readonly string[],
    now: number,
    graceMs: number,
  ): Promise<{ confirmed: number; released: number }>;
  /** The agent's open tickets (issued or running): the leases the control plane holds for it. */
  openLeases(agentId: string): Promise<OpenLease[]>;
  /** Open leases per agent at `now`. */
  leaseCounts(now: number): Promise<Map<string, number>>;
  /** Open leases per agent that the agent confirmed (admitted). */
  confirmedCounts(): Promise<Map<string, number>>;
  /** The `limit` tickets issued last, newest first. */
  recent(limit: number): Promise<TicketRow[]>;
  /**
   * Activity from `since` on, in buckets of `bucketMs` (bucket i starts at since + i × bucketMs):
   * only buckets where something happened, oldest first.
   */
  activity(since: number, bucketMs: number): Promise<ActivityBucket[]>;
  /** Closes an open ticket with the agent's report; false when it was not open. */
  finish(agentId: string, jti: string, report: JobReport, now: number): Promise<boolean>;
  /** Open tickets of one client (API key). */
  openOf(client: string): Promise<number>;
  get(jti: string): Promise<TicketRow | undefined>;
  /** Keeps a client's failure report on the ticket, unless one is there already. */
  noteError(agentId: string, jti: string, error: string): Promise<void>;
  /** Distinct clients whose tickets of the agent, issued after `since`, carry an error so prefixed. */
  reporters(agentId: string, since: number, errorPrefix: string): Promise<number>;
  /** Closes issued, never admitted tickets that expired before `now`; returns how many. */
  expireUnused(now: number): Promise<number>;
  /** Deletes up to `batch` closed tickets that expired before `before`, oldest first. */
  deleteClosed(before: number, batch: number): Promise<number>;
}

/** Circuit-breaker fields on the agents row, moved without interactive transactions (ADR 0004). */
export interface BreakerStore {
  /** Writes `next` only if the row still holds `expected`; false: read again. */
  compareAndSet(agentId: string, expected: BreakerFields, next: BreakerFields): Promise<boolean>;
  /** Takes a half-open probe place atomically (at most halfOpenProbes; a stale one is taken back). */
  claimProbe(
    agentId: string,
    now: number,
    cfg: Pick<BreakerConfig, 'halfOpenProbes' | 'probeTimeoutMs'>,
  ): Promise<boolean>;
  releaseProbe(agentId: string): Promise<void>;
  /** Counts the ticket's failure once; its issue time when counted now, else null. */
  markFailed(agentId: string, jti: string, now: number): Promise<{ issuedAt: number } | null>;
  /** Finished requests and counted failures of the agent after `since`. */
  windowCounts(agentId: string, since: number): Promise<{ requests: number; failures: number }>;
  /** Live agents (heard from after `liveAfter`, not offline) and how many have an open breaker. */
  fleetCounts(liveAfter: number): Promise<{ live: number; open: number }>;
  /** Moves the agent between healthy and degraded, only from `from`. */
  setHealth(
    agentId: string,
    from: 'healthy' | 'degraded',
    to: 'healthy' | 'degraded',
  ): Promise<boolean>;
}

/** Client API keys, stored as hashes. */
export interface KeyStore {
  add(key: ApiKey): Promise<void>;
  /** True when a live key was revoked now. */
  revoke(id: string, now: number): Promise<boolean>;
  list(): Promise<ApiKey[]>;
  /** The live (unrevoked) key with this hash. */
  findLive(hash: string): Promise<ApiKey | undefined>;
}

/** Agent credentials: created join tokens and each agent's own credential, stored as hashes. */
export interface CredentialStore {
  addJoinToken(token: JoinToken): Promise<void>;
  revokeJoinToken(id: string, now: number): Promise<boolean>;
  listJoinTokens(): Promise<JoinToken[]>;
  /** The unrevoked join token with this hash (it may have expired). */
  findJoinToken(hash: string): Promise<JoinToken | undefined>;
  /** The agent's credential hash and liveness, undefined when the agent is not registered. */
  agentCredential(
    id: string,
  ): Promise<{ hash: string | null; state: string; lastHeartbeatAt: number } | undefined>;
  setAgentCredential(id: string, hash: string): Promise<void>;
}

/** Everything the control plane keeps, passed in as `deps.store`. */
export interface Store {
  agents: AgentRegistry;
  tickets: TicketStore;
  breakers: BreakerStore;
  keys: KeyStore;
  credentials: CredentialStore;
}
