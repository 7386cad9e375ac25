// The circuit-breaker decision: pure functions of an agent's stored breaker fields and the time.
import type { ConfigSource } from '../config-values.ts';
import { parseDuration } from '../config-values.ts';

/** What the database stores per agent (see schema/tables.ts). Half-open is derived, not stored. */
export interface BreakerFields {
  state: 'closed' | 'open';
  /** Consecutive failures counted while closed. */
  failures: number;
  /** Trips in a row (the cooldown doubles with each), forgotten after a quiet spell. */
  trips: number;
  openedAt: number | null;
  openUntil: number | null;
  /** Last trip or close. */
  changedAt: number | null;
  /** Probes admitted in the current half-open spell, and when the last one was. */
  probes: number;
  probeAt: number | null;
}

export type BreakerPhase = 'closed' | 'open' | 'half-open';

export interface BreakerConfig {
  /** Consecutive failures that open the breaker (BREAKER_FAILURES). */
  consecutiveFailures: number;
  /** Failure share over the window that opens it (BREAKER_FAILURE_RATE, 0..1). */
  failureRate: number;
  /** The failure-rate window (BREAKER_WINDOW). */
  windowMs: number;
  /** Finished requests the window needs before the rate counts (BREAKER_MIN_REQUESTS). */
  minRequests: number;
  /** First cooldown (BREAKER_COOLDOWN); doubles per repeated trip up to maxCooldownMs. */
  cooldownMs: number;
  maxCooldownMs: number;
  /** Probes admitted at once while half-open (BREAKER_PROBES). */
  halfOpenProbes: number;
  /** A probe that never reports frees its place after this long (no breaker stuck half-open). */
  probeTimeoutMs: number;
  /** Largest share of live agents that may be ejected at once (BREAKER_MAX_EJECTION_PERCENT). */
  maxEjectionShare: number;
  /** Failure share over the window that marks an agent degraded (DEGRADED_FAILURE_RATE). */
  degradedRate: number;
}

export const DEFAULT_BREAKER_CONFIG: BreakerConfig = {
  consecutiveFailures: 5,
  failureRate: 0.5,
  windowMs: 60_000,
  minRequests: 20,
  cooldownMs: 15_000,
  maxCooldownMs: 300_000,
  halfOpenProbes: 3,
  probeTimeoutMs: 30_000,
  maxEjectionShare: 0.5,
  degradedRate: 0.2,
};

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer`);
  return n;
}

function share(value: string | undefined, fallback: number, name: string, percent = false) {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value) / (percent ? 100 : 1);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`${name}: out of range`);
  return n;
}

export function loadBreakerConfig(env: ConfigSource): BreakerConfig {
  const d = DEFAULT_BREAKER_CONFIG;
  const cfg: BreakerConfig = {
    consecutiveFailures: positiveInt(
      env.BREAKER_FAILURES,
      d.consecutiveFailures,
      'BREAKER_FAILURES',
    ),
    failureRate: share(env.BREAKER_FAILURE_RATE, d.failureRate, 'BREAKER_FAILURE_RATE'),
    windowMs: parseDuration(env.BREAKER_WINDOW, d.windowMs, 'BREAKER_WINDOW'),
    minRequests: positiveInt(env.BREAKER_MIN_REQUESTS, d.minRequests, 'BREAKER_MIN_REQUESTS'),
    cooldownMs: parseDuration(env.BREAKER_COOLDOWN, d.cooldownMs, 'BREAKER_COOLDOWN'),
    maxCooldownMs: parseDuration(env.BREAKER_MAX_COOLDOWN, d.maxCooldownMs, 'BREAKER_MAX_COOLDOWN'),
    halfOpenProbes: positiveInt(env.BREAKER_PROBES, d.halfOpenProbes, 'BREAKER_PROBES'),
    probeTimeoutMs: parseDuration(
      env.BREAKER_PROBE_TIMEOUT,
      d.probeTimeoutMs,
      'BREAKER_PROBE_TIMEOUT',
    ),
    maxEjectionShare: share(
      env.BREAKER_MAX_EJECTION_PERCENT,
      d.maxEjectionShare,
      'BREAKER_MAX_EJECTION_PERCENT',
      true,
    ),
    degradedRate: share(env.DEGRADED_FAILURE_RATE, d.degradedRate, 'DEGRADED_FAILURE_RATE'),
  };
  if (cfg.maxCooldownMs < cfg.cooldownMs) cfg.maxCooldownMs = cfg.cooldownMs;
  return cfg;
}

export const CLOSED: BreakerFields = {
  state: 'closed',
  failures: 0,
  trips: 0,
  openedAt: null,
  openUntil: null,
  changedAt: null,
  probes: 0,
  probeAt: null,
};

/** The breaker columns of an agent record as stored (schema/tables.ts). */
export interface StoredBreaker {
  breakerState: string | null;
  breakerFailures: number | null;
  breakerTrips: number | null;
  breakerOpenedAt: number | null;
  breakerOpenUntil: number | null;
  breakerChangedAt: number | null;
  breakerProbes: number | null;
  breakerProbeAt: number | null;
}

export function fieldsOf(r: StoredBreaker): BreakerFields {
  return {
    state: r.breakerState === 'open' ? 'open' : 'closed',
    failures: r.breakerFailures ?? 0,
    trips: r.breakerTrips ?? 0,
    openedAt: r.breakerOpenedAt,
    openUntil: r.breakerOpenUntil,
    changedAt: r.breakerChangedAt,
    probes: r.breakerProbes ?? 0,
    probeAt: r.breakerProbeAt,
  };
}

export function phaseOf(f: BreakerFields, now: number): BreakerPhase {
  if (f.state === 'closed') return 'closed';
  return f.openUntil !== null && now >= f.openUntil ? 'half-open' : 'open';
}

/** Cooldown after the n-th trip in a row: doubles from cooldownMs, capped at maxCooldownMs. */
export function cooldownFor(trips: number, cfg: BreakerConfig): number {
  const doublings = Math.min(Math.max(trips - 1, 0), 30);
  return Math.min(cfg.cooldownMs * 2 ** doublings, cfg.maxCooldownMs);
}

/** A probe place is free: fewer than halfOpenProbes admitted, or the last one timed out. */
export function probeFree(f: BreakerFields, now: number, cfg: BreakerConfig): boolean {
  return (
    f.probes < cfg.halfOpenProbes || f.probeAt === null || now - f.probeAt >= cfg.probeTimeoutMs
  );
}

/** May the scheduler send this agent a request now? (Half-open: only with a free probe place.) */
export function admits(f: BreakerFields, now: number, cfg: BreakerConfig): boolean {
  const phase = phaseOf(f, now);
  if (phase === 'closed') return true;
  if (phase === 'open') return false;
  return probeFree(f, now, cfg);
}

/** Outcome of one ticket, as the breaker sees it. */
export interface Outcome {
  /** When the ticket was issued: outcomes of tickets issued before the last trip are ignored. */
  issuedAt: number;
  now: number;
  /** Finished requests and failures in the window, this one included (for the rate trigger). */
  window?: { requests: number; failures: number } | undefined;
  /** Whether one more agent may be ejected without passing maxEjectionShare. */
  mayEject: boolean;
}

function stale(f: BreakerFields, issuedAt: number): boolean {
  return f.openedAt !== null && issuedAt < f.openedAt;
}

function trip(f: BreakerFields, now: number, cfg: BreakerConfig, again: boolean): BreakerFields {
  // A trip soon after the last close counts as "in a row" and doubles the cooldown.
  const recent = f.changedAt !== null && now - f.changedAt < cfg.maxCooldownMs;
  const trips = again || recent ? f.trips + 1 : 1;
  return {
    ...f,
    state: 'open',
    trips,
    openedAt: now,
    openUntil: now + cooldownFor(trips, cfg),
    changedAt: now,
    probes: 0,
    probeAt: null,
  };
}

export function rateTripped(window: Outcome['window'], cfg: BreakerConfig): boolean {
  return (
    window !== undefined &&
    window.requests >= cfg.minRequests &&
    window.failures / window.requests >= cfg.failureRate
  );
}

/** The fields after a counted failure, or null when nothing changes. */
export function onFailure(f: BreakerFields, o: Outcome, cfg: BreakerConfig): BreakerFields | null {
  if (stale(f, o.issuedAt)) return null;
  const phase = phaseOf(f, o.now);
  if (phase === 'open') return null;
  // A failed probe reopens at once, with a longer cooldown; it is already counted as ejected.
  if (phase === 'half-open') return trip(f, o.now, cfg, true);
  const failures = f.failures + 1;
  const tripped = failures >= cfg.consecutiveFailures || rateTripped(o.window, cfg);
  if (tripped && o.mayEject) return trip({ ...f, failures }, o.now, cfg, false);
  return { ...f, failures };
}

/** The fields after a success, or null when nothing changes (no write on the happy path). */
export function onSuccess(
  f: BreakerFields,
  o: Pick<Outcome, 'issuedAt' | 'now'>,
): BreakerFields | null {
  if (stale(f, o.issuedAt)) return null;
  const phase = phaseOf(f, o.now);
  if (phase === 'open') return null;
  if (phase === 'half-open') {
    return { ...f, state: 'closed', failures: 0, changedAt: o.now, probes: 0, probeAt: null };
  }
  return f.failures > 0 ? { ...f, failures: 0 } : null;
}

/**
 * Health from the failure share in the window: degraded at degradedRate or more (with enough
 * requests), healthy again below half of it or with no failure left in the window.
 */
export function healthFromWindow(
  state: string,
  window: { requests: number; failures: number },
  cfg: BreakerConfig,
): 'healthy' | 'degraded' | null {
  if (state === 'degraded' && window.failures === 0) return 'healthy';
  const min = Math.max(5, Math.ceil(cfg.minRequests / 4));
  if (window.requests < min) return null;
  const rate = window.failures / window.requests;
  if (state === 'healthy' && rate >= cfg.degradedRate) return 'degraded';
  if (state === 'degraded' && rate < cfg.degradedRate / 2) return 'healthy';
  return null;
}

/** The breaker as GET /v1/status shows it. */
export function breakerStatus(f: BreakerFields, now: number, cfg: BreakerConfig) {
  const phase = phaseOf(f, now);
  return {
    state: phase,
    consecutiveFailures: f.failures,
    trips: f.trips,
    openedAt: f.openedAt === null ? null : new Date(f.openedAt).toISOString(),
    halfOpenInMs: phase === 'open' && f.openUntil !== null ? f.openUntil - now : null,
    probes: phase === 'half-open' ? { admitted: f.probes, max: cfg.halfOpenProbes } : null,
  };
}
