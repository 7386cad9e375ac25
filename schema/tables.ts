// The control plane's registry: one drizzle schema for D1 (Workers) and SQLite (Node).
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Times are integer milliseconds since the epoch, taken from the injected clock. */
export const agents = sqliteTable(
  'agents',
  {
    id: text('id').primaryKey(),
    url: text('url').notNull(),
    engine: text('engine').notNull(),
    version: text('version').notNull(),
    maxJobs: integer('max_jobs').notNull(),
    /** Jobs the agent itself said it was running at its last heartbeat. */
    reportedJobs: integer('reported_jobs').notNull().default(0),
    /** healthy | degraded | offline | draining */
    state: text('state').notNull().default('healthy'),
    /** Last stats the agent sent, as JSON (AgentStats). */
    stats: text('stats').notNull(),
    rttMs: real('rtt_ms'),
    /** Free and total memory the scheduler plans with: VRAM on GPU agents, RAM on CPU agents. */
    memoryFreeBytes: integer('memory_free_bytes').notNull().default(0),
    memoryTotalBytes: integer('memory_total_bytes').notNull().default(0),
    /** 'gpu' or 'cpu'. */
    accelerator: text('accelerator').notNull().default('cpu'),
    /** Where the agent is (configured), for client-distance routing on Workers. */
    latitude: real('latitude'),
    longitude: real('longitude'),
    /** Exponentially weighted tokens/s from job reports. */
    tokensPerSecond: real('tokens_per_second'),
    registeredAt: integer('registered_at').notNull(),
    /** Last heartbeat written to the database; writes are coalesced (see docs/adr/0003). */
    lastHeartbeatAt: integer('last_heartbeat_at').notNull(),
    /** SHA-256 (hex) of the agent's credential; heartbeats and job reports must carry it. */
    credentialHash: text('credential_hash'),
    /**
     * The join token that admitted the current registration: a created token's id, 'env' for the
     * configured JOIN_TOKEN, null in development mode. Live agents per token are capped.
     */
    joinTokenId: text('join_token_id'),
    /** Circuit breaker (control-plane/core/breakers): 'closed' or 'open' (half-open is derived). */
    breakerState: text('breaker_state').notNull().default('closed'),
    /** Consecutive failures counted while closed. */
    breakerFailures: integer('breaker_failures').notNull().default(0),
    /** Trips in a row without a quiet spell: the cooldown doubles with each. */
    breakerTrips: integer('breaker_trips').notNull().default(0),
    /** Last trip; outcomes of tickets issued before it are ignored. */
    breakerOpenedAt: integer('breaker_opened_at'),
    /** Open until then; half-open (probes admitted) afterwards. */
    breakerOpenUntil: integer('breaker_open_until'),
    /** Last transition (trip or close), for forgetting old trips. */
    breakerChangedAt: integer('breaker_changed_at'),
    /** Probes admitted in the current half-open spell, and when the last one was admitted. */
    breakerProbes: integer('breaker_probes').notNull().default(0),
    breakerProbeAt: integer('breaker_probe_at'),
    /** Set by an operator (admin API `drain`): no new work until undrained, whatever the state. */
    drainedAt: integer('drained_at'),
    /**
     * Prefix-digest hashes the agent's engine holds, most recent first, comma-separated (at most
     * 48, ~430 bytes): what the prefix scorer matches a request against (docs/adr/0013).
     */
    prefixes: text('prefixes'),
  },
  (t) => [index('agents_state_idx').on(t.state)],
);

export const agentModels = sqliteTable(
  'agent_models',
  {
    agentId: text('agent_id').notNull(),
    model: text('model').notNull(),
    loaded: integer('loaded', { mode: 'boolean' }).notNull(),
    memoryBytes: integer('memory_bytes'),
    /** The GGUF type the agent runs it in (`Q4_1`, `Q4_K_M`…), when the agent knows it. */
    quantization: text('quantization'),
  },
  (t) => [
    primaryKey({ columns: [t.agentId, t.model] }),
    index('agent_models_model_idx').on(t.model),
  ],
);

/** One row per issued ticket: the job it admits, from reservation to report. */
export const tickets = sqliteTable(
  'tickets',
  {
    jti: text('jti').primaryKey(),
    agentId: text('agent_id').notNull(),
    model: text('model').notNull(),
    client: text('client').notNull(),
    /** issued | running | success | error | cancelled | rejected | expired | lost */
    state: text('state').notNull().default('issued'),
    issuedAt: integer('issued_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    /**
     * The ticket is its agent's slot lease (control-plane/core/storage/sqlite/tickets.ts): an
     * unconfirmed ticket holds the slot until then (issued_at + LEASE_CLAIM_WINDOW).
     */
    claimUntil: integer('claim_until').notNull().default(0),
    /** When the agent confirmed admission: the lease is held until the job report. */
    admittedAt: integer('admitted_at'),
    finishedAt: integer('finished_at'),
    promptTokens: integer('prompt_tokens'),
    completionTokens: integer('completion_tokens'),
    ttftMs: real('ttft_ms'),
    durationMs: real('duration_ms'),
    error: text('error'),
    /** Why the job ended, from its report: the engine's finish reason or the agent's error code. */
    finishReason: text('finish_reason'),
    /**
     * The route decision that issued the ticket, as JSON (DecisionSummary in
     * control-plane/core/timeline.ts), written by the same INSERT that takes the lease.
     */
    decision: text('decision'),
    /** When a failure of this ticket was counted against its agent (at most once). */
    failedAt: integer('failed_at'),
  },
  (t) => [
    index('tickets_state_expires_idx').on(t.state, t.expiresAt),
    index('tickets_agent_state_idx').on(t.agentId, t.state),
    index('tickets_client_state_idx').on(t.client, t.state),
  ],
);

/** Client API keys; only a SHA-256 of the secret is stored. */
export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  hash: text('hash').notNull().unique(),
  name: text('name').notNull(),
  createdAt: integer('created_at').notNull(),
  revokedAt: integer('revoked_at'),
  /** Overrides RATE_LIMIT_PER_MINUTE / MAX_CONCURRENT_PER_KEY for this key. */
  rateLimitPerMinute: integer('rate_limit_per_minute'),
  maxConcurrent: integer('max_concurrent'),
});

/** Join tokens created by an admin, with a lifetime; the configured JOIN_TOKEN lives outside. */
export const joinTokens = sqliteTable('join_tokens', {
  id: text('id').primaryKey(),
  hash: text('hash').notNull().unique(),
  name: text('name').notNull(),
  createdAt: integer('created_at').notNull(),
  expiresAt: integer('expires_at'),
  revokedAt: integer('revoked_at'),
  /** Overrides MAX_AGENTS_PER_JOIN_TOKEN for this token. */
  maxAgents: integer('max_agents'),
});

export type AgentRow = typeof agents.$inferSelect;
export type AgentModelRow = typeof agentModels.$inferSelect;
export type TicketRow = typeof tickets.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type JoinTokenRow = typeof joinTokens.$inferSelect;
