// The breaker's part of a routing decision: which agents it admits, and half-open probe places
// taken around the slot lease (given back when no lease is taken).
import { describe, expect, it } from 'vitest';
import {
  breakerAdmitsAt,
  reserveThroughBreaker,
} from '../../../../control-plane/core/breakers/admission.ts';
import {
  type BreakerFields,
  CLOSED,
  DEFAULT_BREAKER_CONFIG,
} from '../../../../control-plane/core/breakers/policy.ts';
import { openSqlite } from '../../../../control-plane/node/sqlite.ts';

const NOW = 1_000_000;
const cfg = { ...DEFAULT_BREAKER_CONFIG, halfOpenProbes: 1 };
const open = (over: Partial<BreakerFields> = {}): BreakerFields => ({
  ...CLOSED,
  state: 'open',
  trips: 1,
  openedAt: NOW - 20_000,
  openUntil: NOW + 5_000,
  ...over,
});
const halfOpen = (over: Partial<BreakerFields> = {}) => open({ openUntil: NOW - 5_000, ...over });

/** A database holding agent `a` with the given breaker. */
async function dbWith(breaker: BreakerFields) {
  const { store, sqlite } = openSqlite(':memory:');
  await store.agents.register(
    {
      id: 'a',
      url: 'http://a',
      engine: 'fake',
      version: 'test',
      maxJobs: 4,
      models: [],
      stats: { cpuCores: 1, cpuLoadPercent: 0, memoryTotalBytes: 0, memoryFreeBytes: 0, gpus: [] },
    },
    NOW,
  );
  sqlite
    .prepare(
      `UPDATE agents SET breaker_state = ?, breaker_trips = ?, breaker_opened_at = ?,
        breaker_open_until = ?, breaker_probes = ?, breaker_probe_at = ? WHERE id = 'a'`,
    )
    .run(
      breaker.state,
      breaker.trips,
      breaker.openedAt,
      breaker.openUntil,
      breaker.probes,
      breaker.probeAt,
    );
  const probes = () =>
    (sqlite.prepare(`SELECT breaker_probes AS n FROM agents WHERE id = 'a'`).get() as { n: number })
      .n;
  return { db: store.breakers, probes };
}

describe('breaker admission', () => {
  it('admits closed agents (no breaker read), a half-open one only with a free probe place', () => {
    const admits = breakerAdmitsAt(NOW, cfg);
    expect(
      [
        {},
        { breaker: open() },
        { breaker: halfOpen() },
        { breaker: halfOpen({ probes: 1, probeAt: NOW - 1_000 }) },
      ].map(admits),
    ).toEqual([true, false, true, false]);
  });

  it('reserves through a closed breaker without touching probe places', async () => {
    const { db, probes } = await dbWith(CLOSED);
    expect(await reserveThroughBreaker(db, { id: 'a' }, NOW, cfg, async () => 7)).toBe(7);
    expect(probes()).toBe(0);
  });

  it('holds a probe place for a lease taken through a half-open breaker', async () => {
    const { db, probes } = await dbWith(halfOpen());
    const agent = { id: 'a', breaker: halfOpen() };
    expect(await reserveThroughBreaker(db, agent, NOW, cfg, async () => 7)).toBe(7);
    expect(probes()).toBe(1);
    // The one place is taken: the next request does not even try for a lease.
    let tried = false;
    const second = await reserveThroughBreaker(db, agent, NOW, cfg, async () => {
      tried = true;
      return 8;
    });
    expect([second, tried]).toEqual([undefined, false]);
  });

  it('gives the probe place back when no lease is taken', async () => {
    const { db, probes } = await dbWith(halfOpen());
    const agent = { id: 'a', breaker: halfOpen() };
    expect(await reserveThroughBreaker(db, agent, NOW, cfg, async () => undefined)).toBeUndefined();
    expect(probes()).toBe(0);
  });
});
