// The breaker decision, table-style: stored fields + a fake "now" in, next fields out.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  admits,
  type BreakerFields,
  CLOSED,
  DEFAULT_BREAKER_CONFIG as cfg,
  cooldownFor,
  healthFromWindow,
  loadBreakerConfig,
  onFailure,
  onSuccess,
  phaseOf,
} from '../../../../control-plane/core/breakers/policy.ts';

const T0 = 1_000_000;
const fail = (
  f: BreakerFields,
  now: number,
  extra: { issuedAt?: number; mayEject?: boolean } = {},
) =>
  onFailure(
    f,
    { issuedAt: extra.issuedAt ?? now - 10, now, mayEject: extra.mayEject ?? true },
    cfg,
  );

/** Applies n failures one after the other (ignoring "no change"). */
function failN(n: number, start: BreakerFields = CLOSED, now = T0): BreakerFields {
  let f = start;
  for (let i = 0; i < n; i++) f = fail(f, now + i) ?? f;
  return f;
}

const open = (over: Partial<BreakerFields> = {}): BreakerFields => ({
  ...CLOSED,
  state: 'open',
  failures: 5,
  trips: 1,
  openedAt: T0,
  openUntil: T0 + cfg.cooldownMs,
  changedAt: T0,
  ...over,
});

describe('breaker phases and admission', () => {
  it.each([
    { name: 'closed', f: CLOSED, now: T0, phase: 'closed', admitted: true },
    {
      name: 'open, cooling down',
      f: open(),
      now: T0 + cfg.cooldownMs - 1,
      phase: 'open',
      admitted: false,
    },
    {
      name: 'half-open, no probe yet',
      f: open(),
      now: T0 + cfg.cooldownMs,
      phase: 'half-open',
      admitted: true,
    },
    {
      name: 'half-open, every probe place taken',
      f: open({ probes: cfg.halfOpenProbes, probeAt: T0 + cfg.cooldownMs }),
      now: T0 + cfg.cooldownMs + 1,
      phase: 'half-open',
      admitted: false,
    },
    {
      name: 'half-open, probes taken but timed out',
      f: open({ probes: cfg.halfOpenProbes, probeAt: T0 + cfg.cooldownMs }),
      now: T0 + cfg.cooldownMs + cfg.probeTimeoutMs,
      phase: 'half-open',
      admitted: true,
    },
  ] as const)('$name', ({ f, now, phase, admitted }) => {
    expect(phaseOf(f, now)).toBe(phase);
    expect(admits(f, now, cfg)).toBe(admitted);
  });
});

describe('closed → open', () => {
  it('stays closed after N-1 consecutive failures and opens on the N-th', () => {
    const almost = failN(cfg.consecutiveFailures - 1);
    expect(almost).toMatchObject({ state: 'closed', failures: cfg.consecutiveFailures - 1 });
    const tripped = fail(almost, T0 + 100);
    expect(tripped).toMatchObject({
      state: 'open',
      trips: 1,
      openedAt: T0 + 100,
      openUntil: T0 + 100 + cfg.cooldownMs,
    });
  });

  it('a success in between resets the count; a success with nothing to reset writes nothing', () => {
    const four = failN(4);
    const reset = onSuccess(four, { issuedAt: T0, now: T0 + 10 });
    expect(reset).toMatchObject({ state: 'closed', failures: 0 });
    expect(onSuccess(CLOSED, { issuedAt: T0, now: T0 })).toBeNull();
    expect(failN(4, reset ?? CLOSED)).toMatchObject({ state: 'closed' });
  });

  it('opens on the failure rate over the window once enough requests finished', () => {
    const o = { issuedAt: T0, now: T0, mayEject: true };
    const rate = (requests: number, failures: number) =>
      onFailure(CLOSED, { ...o, window: { requests, failures } }, cfg)?.state;
    expect(rate(cfg.minRequests, Math.ceil(cfg.minRequests * cfg.failureRate))).toBe('open');
    expect(rate(cfg.minRequests, Math.ceil(cfg.minRequests * cfg.failureRate) - 1)).toBe('closed');
    expect(rate(cfg.minRequests - 1, cfg.minRequests - 1)).toBe('closed');
  });

  it('does not trip when the fleet cannot spare another agent, but keeps counting', () => {
    const kept = fail(failN(4), T0 + 50, { mayEject: false });
    expect(kept).toMatchObject({ state: 'closed', failures: 5 });
  });

  it('ignores outcomes of tickets issued before the last trip', () => {
    const o = open();
    const later = T0 + cfg.cooldownMs + 5;
    expect(fail(o, later, { issuedAt: T0 - 1 })).toBeNull();
    expect(onSuccess(o, { issuedAt: T0 - 1, now: later })).toBeNull();
    // A failure while open (a straggler issued after the trip) changes nothing either.
    expect(fail(o, T0 + 1, { issuedAt: T0 })).toBeNull();
  });
});

describe('half-open', () => {
  const halfOpenAt = T0 + cfg.cooldownMs;

  it('a probe success closes and forgets the failures', () => {
    const closed = onSuccess(open({ probes: 1, probeAt: halfOpenAt }), {
      issuedAt: halfOpenAt,
      now: halfOpenAt + 50,
    });
    expect(closed).toMatchObject({ state: 'closed', failures: 0, probes: 0 });
  });

  it('a probe failure reopens with a doubled cooldown', () => {
    const reopened = fail(open({ probes: 1, probeAt: halfOpenAt }), halfOpenAt + 50, {
      issuedAt: halfOpenAt,
    });
    expect(reopened).toMatchObject({
      state: 'open',
      trips: 2,
      openedAt: halfOpenAt + 50,
      openUntil: halfOpenAt + 50 + 2 * cfg.cooldownMs,
      probes: 0,
    });
  });

  it('reopening ignores the ejection limit (the agent is already ejected)', () => {
    expect(fail(open(), halfOpenAt, { issuedAt: halfOpenAt, mayEject: false })?.state).toBe('open');
  });
});

describe('backoff', () => {
  it.each([
    [1, cfg.cooldownMs],
    [2, 2 * cfg.cooldownMs],
    [3, 4 * cfg.cooldownMs],
    [5, 16 * cfg.cooldownMs],
    [6, cfg.maxCooldownMs],
    [60, cfg.maxCooldownMs],
  ])('trip %i cools down for %i ms', (trips, ms) => {
    expect(cooldownFor(trips, cfg)).toBe(ms);
  });

  it('a trip soon after closing counts as repeated; after a quiet spell it starts over', () => {
    const closedAt = T0 + 10_000;
    const closed = { ...CLOSED, trips: 2, changedAt: closedAt, openedAt: T0 };
    expect(failN(5, closed, closedAt + 1_000)).toMatchObject({ trips: 3 });
    expect(failN(5, closed, closedAt + cfg.maxCooldownMs)).toMatchObject({ trips: 1 });
  });

  it('never cools down longer than the cap, and never admits while cooling (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.nat(cfg.maxCooldownMs), (trips, dt) => {
        const c = cooldownFor(trips, cfg);
        expect(c).toBeLessThanOrEqual(cfg.maxCooldownMs);
        expect(c).toBeGreaterThanOrEqual(cfg.cooldownMs);
        const f = open({ trips, openUntil: T0 + c });
        expect(admits(f, T0 + dt, cfg)).toBe(dt >= c);
      }),
    );
  });
});

describe('health from the window', () => {
  it.each([
    { state: 'healthy', requests: 10, failures: 2, next: 'degraded' },
    { state: 'healthy', requests: 10, failures: 1, next: null },
    { state: 'healthy', requests: 4, failures: 4, next: null },
    { state: 'degraded', requests: 10, failures: 1, next: null },
    { state: 'degraded', requests: 30, failures: 2, next: 'healthy' },
    { state: 'degraded', requests: 1, failures: 0, next: 'healthy' },
  ])('$state with $failures/$requests failed → $next', ({ state, requests, failures, next }) => {
    expect(healthFromWindow(state, { requests, failures }, cfg)).toBe(next);
  });
});

describe('configuration', () => {
  it('reads BREAKER_* settings and rejects nonsense', () => {
    const c = loadBreakerConfig({
      BREAKER_FAILURES: '3',
      BREAKER_COOLDOWN: '2s',
      BREAKER_MAX_COOLDOWN: '1s',
      BREAKER_MAX_EJECTION_PERCENT: '34',
    });
    expect(c).toMatchObject({ consecutiveFailures: 3, cooldownMs: 2000, maxCooldownMs: 2000 });
    expect(c.maxEjectionShare).toBeCloseTo(0.34);
    expect(() => loadBreakerConfig({ BREAKER_FAILURES: '0' })).toThrow(/BREAKER_FAILURES/);
    expect(() => loadBreakerConfig({ BREAKER_FAILURE_RATE: '2' })).toThrow(/BREAKER_FAILURE_RATE/);
  });
});
