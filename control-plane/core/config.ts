// Control-plane settings, read from one flat string map (process.env on Node, vars on Workers).

import { parseOrigins } from '../../protocol/cors.ts';
import { type BreakerConfig, loadBreakerConfig } from './breakers/policy.ts';
import { type ConfigSource, parseDuration, positiveInt } from './config-values.ts';

export interface ControlPlaneConfig {
  /** `iss` of every ticket; agents check it. */
  issuer: string;
  /** Secret agents present to register, heartbeat and report (hardened in the security work). */
  joinToken: string | undefined;
  /** How often agents should heartbeat. */
  heartbeatIntervalMs: number;
  /** An agent silent for this long is offline (HEARTBEAT_TIMEOUT, default 30s). */
  heartbeatTimeoutMs: number;
  /** Offline agents are removed after this long (CLEANUP_INTERVAL, default 60s). */
  cleanupIntervalMs: number;
  /** A heartbeat that changes nothing is still written this often (LIVENESS_WRITE_INTERVAL). */
  livenessWriteIntervalMs: number;
  /** Load changes (memory, RTT) are written at most this often (LOAD_WRITE_INTERVAL). */
  loadWriteIntervalMs: number;
  /** How long a process reuses agent views it read for a decision (VIEW_CACHE_TTL; 0 = never). */
  viewCacheTtlMs: number;
  /** An issued ticket holds its slot this long unless the agent confirms it (LEASE_CLAIM_WINDOW). */
  leaseClaimWindowMs: number;
  /** Closed tickets (the job history) are deleted this long after they expired (TICKET_RETENTION). */
  ticketRetentionMs: number;
  /** Lifetime of tickets returned by POST /v1/route (TOKEN_TTL, default 300s). */
  routeTicketTtlMs: number;
  /** Lifetime of tickets placed in a 307 Location URL (at most 60s). */
  urlTicketTtlMs: number;
  /** Largest max_tokens a client may ask for; also the ticket's limit when it asks none. */
  maxTokensCap: number;
  /** `keys`: clients need an API key. `development`: no keys, said loudly (AUTH_MODE). */
  authMode: 'keys' | 'development';
  /** Bearer secret for /admin/* (ADMIN_KEY); admin endpoints are off without it. */
  adminKey: string | undefined;
  /**
   * Bearer secret for GET /metrics (METRICS_TOKEN), never a client API key. Unset: /metrics is
   * off (403), except in development mode, where it is open.
   */
  metricsToken: string | undefined;
  /** Default per-key request rate (RATE_LIMIT_PER_MINUTE) and concurrent-request quota. */
  rateLimitPerMinute: number;
  maxConcurrentPerKey: number;
  /** Circuit breakers and health thresholds (BREAKER_*, see docs/adr/0004). */
  breaker: BreakerConfig;
  /** Host patterns agent URLs must match (AGENT_URL_HOSTS, comma-separated, `*` wildcard). */
  agentUrlHosts: string[];
  /** Most live agents; registering a new id beyond it is refused (MAX_AGENTS, default 1024). */
  maxAgents: number;
  /**
   * Most live agents one join token may have admitted (MAX_AGENTS_PER_JOIN_TOKEN, default 64); a
   * created token may carry its own. Not applied in development mode, where no token is needed.
   */
  maxAgentsPerJoinToken: number;
  /**
   * Browser origins allowed to call (CORS_ORIGINS, comma-separated, or `*`); default `*` in
   * development mode, none otherwise (browsers are then refused; curl and SDKs are not affected).
   */
  corsOrigins: string[];
  /**
   * Share of an agent's slots, counting the request, above which it loses the prefix-affinity
   * bonus (PREFIX_MAX_LOAD, default 0.75): bounded load for a hot prefix (docs/adr/0013).
   */
  prefixMaxLoad: number;
}

export function loadConfig(env: ConfigSource): ControlPlaneConfig {
  const urlTicketTtlMs = parseDuration(env.URL_TICKET_TTL, 60_000, 'URL_TICKET_TTL');
  if (urlTicketTtlMs > 60_000) throw new Error('URL_TICKET_TTL may not exceed 60s');
  const authMode = env.AUTH_MODE || 'keys';
  if (authMode !== 'keys' && authMode !== 'development') {
    throw new Error(`AUTH_MODE must be 'keys' or 'development', got '${authMode}'`);
  }
  return {
    issuer: env.TICKET_ISSUER || 'titancompute',
    joinToken: env.JOIN_TOKEN || undefined,
    heartbeatIntervalMs: parseDuration(env.HEARTBEAT_INTERVAL, 5_000, 'HEARTBEAT_INTERVAL'),
    heartbeatTimeoutMs: parseDuration(env.HEARTBEAT_TIMEOUT, 30_000, 'HEARTBEAT_TIMEOUT'),
    cleanupIntervalMs: parseDuration(env.CLEANUP_INTERVAL, 60_000, 'CLEANUP_INTERVAL'),
    livenessWriteIntervalMs: parseDuration(
      env.LIVENESS_WRITE_INTERVAL,
      15_000,
      'LIVENESS_WRITE_INTERVAL',
    ),
    loadWriteIntervalMs: parseDuration(env.LOAD_WRITE_INTERVAL, 10_000, 'LOAD_WRITE_INTERVAL'),
    viewCacheTtlMs: parseDuration(env.VIEW_CACHE_TTL, 1_000, 'VIEW_CACHE_TTL'),
    leaseClaimWindowMs: parseDuration(env.LEASE_CLAIM_WINDOW, 3_000, 'LEASE_CLAIM_WINDOW'),
    ticketRetentionMs: parseDuration(env.TICKET_RETENTION, 24 * 3_600_000, 'TICKET_RETENTION'),
    routeTicketTtlMs: parseDuration(env.TOKEN_TTL, 300_000, 'TOKEN_TTL'),
    urlTicketTtlMs,
    maxTokensCap: positiveInt(env.MAX_TOKENS, 4096, 'MAX_TOKENS'),
    authMode,
    adminKey: env.ADMIN_KEY || undefined,
    metricsToken: env.METRICS_TOKEN || undefined,
    rateLimitPerMinute: positiveInt(env.RATE_LIMIT_PER_MINUTE, 600, 'RATE_LIMIT_PER_MINUTE'),
    maxConcurrentPerKey: positiveInt(env.MAX_CONCURRENT_PER_KEY, 32, 'MAX_CONCURRENT_PER_KEY'),
    breaker: loadBreakerConfig(env),
    agentUrlHosts: (env.AGENT_URL_HOSTS ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h !== ''),
    maxAgents: positiveInt(env.MAX_AGENTS, 1024, 'MAX_AGENTS'),
    maxAgentsPerJoinToken: positiveInt(
      env.MAX_AGENTS_PER_JOIN_TOKEN,
      64,
      'MAX_AGENTS_PER_JOIN_TOKEN',
    ),
    corsOrigins:
      env.CORS_ORIGINS !== undefined
        ? parseOrigins(env.CORS_ORIGINS)
        : authMode === 'development'
          ? ['*']
          : [],
    prefixMaxLoad: share(env.PREFIX_MAX_LOAD, 0.75, 'PREFIX_MAX_LOAD'),
  };
}

/** A share in (0, 1], or the fallback when unset. */
function share(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) {
    throw new Error(`${name} must be a number in (0, 1], got "${value}"`);
  }
  return n;
}

/**
 * Agents whose last written heartbeat is older than this are offline. Heartbeats are coalesced
 * (written at least every LIVENESS_WRITE_INTERVAL), so silence is measured from the last write
 * plus that window: an agent is declared offline within HEARTBEAT_TIMEOUT + LIVENESS_WRITE_INTERVAL.
 */
export function liveCutoff(
  config: Pick<ControlPlaneConfig, 'heartbeatTimeoutMs' | 'livenessWriteIntervalMs'>,
  now: number,
): number {
  return now - config.heartbeatTimeoutMs - config.livenessWriteIntervalMs;
}

/** Shortest ADMIN_KEY / JOIN_TOKEN not reported as weak (generated secrets are 43 characters). */
export const MIN_SECRET_LENGTH = 24;

/** Names of configured secrets shorter than MIN_SECRET_LENGTH, for a start-up warning. */
export function weakSecrets(
  config: Pick<ControlPlaneConfig, 'adminKey' | 'joinToken'> &
    Partial<Pick<ControlPlaneConfig, 'metricsToken'>>,
): string[] {
  const set: [string, string | undefined][] = [
    ['ADMIN_KEY', config.adminKey],
    ['JOIN_TOKEN', config.joinToken],
    ['METRICS_TOKEN', config.metricsToken],
  ];
  return set.filter(([, v]) => v !== undefined && v.length < MIN_SECRET_LENGTH).map(([n]) => n);
}
