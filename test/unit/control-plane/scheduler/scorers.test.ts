// Table-driven tests for each scorer's normalisation.
import { describe, expect, it } from 'vitest';
import { memoryScore } from '../../../../control-plane/core/scheduler/scorers/memory.ts';
import { performanceScore } from '../../../../control-plane/core/scheduler/scorers/performance.ts';
import { poolStats } from '../../../../control-plane/core/scheduler/scorers/pool.ts';
import { haversineKm, rttScore } from '../../../../control-plane/core/scheduler/scorers/rtt.ts';
import { slotsScore } from '../../../../control-plane/core/scheduler/scorers/slots.ts';
import type {
  AgentView,
  PlacementRequest,
  Scorer,
} from '../../../../control-plane/core/scheduler/types.ts';
import { GiB, view } from './view.ts';

const req: PlacementRequest = { model: 'm' };
const berlin = { latitude: 52.52, longitude: 13.405 };
const newYork = { latitude: 40.7128, longitude: -74.006 };

const cases: [
  string,
  Scorer,
  Partial<AgentView>,
  number,
  PlacementRequest?,
  Partial<AgentView>[]?,
][] = [
  ['memory: half free, loaded', memoryScore, { memoryFreeBytes: 40 * GiB }, 0.5],
  [
    'memory: load cost is subtracted',
    memoryScore,
    { modelLoaded: false, modelMemoryBytes: 20 * GiB },
    0.25,
  ],
  ['memory: never below 0', memoryScore, { modelLoaded: false, modelMemoryBytes: 60 * GiB }, 0],
  ['memory: unknown totals are neutral', memoryScore, { memoryTotalBytes: 0 }, 0.5],
  ['slots: all free', slotsScore, { reservedJobs: 0 }, 1],
  ['slots: one of four busy', slotsScore, { reservedJobs: 1 }, 0.75],
  ['slots: full', slotsScore, { reservedJobs: 4 }, 0],
  ['rtt: 0 ms', rttScore, { rttMs: 0 }, 1],
  ['rtt: 50 ms is one half', rttScore, { rttMs: 50 }, 0.5],
  ['rtt: 150 ms', rttScore, { rttMs: 150 }, 0.25],
  ['rtt: unknown is neutral', rttScore, { rttMs: null }, 0.5],
  [
    'rtt: same city by geo beats a fast heartbeat',
    rttScore,
    { rttMs: 200, ...berlin },
    1,
    { model: 'm', clientLocation: berlin },
  ],
  [
    'performance: fastest is 1',
    performanceScore,
    { tokensPerSecond: 100 },
    1,
    req,
    [{ tokensPerSecond: 50 }],
  ],
  [
    'performance: half as fast',
    performanceScore,
    { tokensPerSecond: 50 },
    0.5,
    req,
    [{ tokensPerSecond: 100 }],
  ],
  [
    'performance: no reports yet is neutral',
    performanceScore,
    { tokensPerSecond: null },
    0.5,
    req,
    [{ tokensPerSecond: 100 }],
  ],
];

describe('scorers', () => {
  it.each(cases)('%s', (_name, scorer, over, expected, r = req, others = []) => {
    const agent = view('a', over);
    const pool = poolStats([agent, ...others.map((o, i) => view(`o${i}`, o))]);
    expect(scorer(agent, r, pool)).toBeCloseTo(expected, 3);
  });

  it('estimates transatlantic distance', () => {
    expect(haversineKm(berlin, newYork)).toBeGreaterThan(6300);
    expect(haversineKm(berlin, newYork)).toBeLessThan(6450);
    const far = rttScore(
      view('a', { ...newYork }),
      { model: 'm', clientLocation: berlin },
      poolStats([]),
    );
    expect(far).toBeCloseTo(50 / (50 + haversineKm(berlin, newYork) / 100), 3);
  });

  it('every scorer stays in [0, 1] on extreme inputs', () => {
    const extreme = view('x', {
      memoryFreeBytes: 1e15,
      memoryTotalBytes: 1,
      reservedJobs: -3,
      rttMs: -5,
      tokensPerSecond: 1e9,
    });
    for (const s of [memoryScore, slotsScore, rttScore, performanceScore]) {
      const v = s(extreme, req, poolStats([extreme]));
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
  });
});
