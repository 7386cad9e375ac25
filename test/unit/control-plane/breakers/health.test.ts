// Late heartbeats or memory pressure make a healthy agent degraded (derived, no write); other
// states are kept.
import { describe, expect, it } from 'vitest';
import { effectiveState } from '../../../../control-plane/core/breakers/health.ts';

const config = {
  livenessWriteIntervalMs: 15_000,
  heartbeatIntervalMs: 5_000,
  heartbeatTimeoutMs: 30_000,
};
const NOW = 1_000_000;
const GiB = 2 ** 30;

describe('effectiveState', () => {
  it.each([
    { state: 'healthy', agoMs: 25_000, expected: 'healthy' },
    { state: 'healthy', agoMs: 25_001, expected: 'degraded' },
    { state: 'degraded', agoMs: 1_000, expected: 'degraded' },
    // Silent past HEARTBEAT_TIMEOUT (+ the liveness write interval): offline before any write.
    { state: 'healthy', agoMs: 44_999, expected: 'degraded' },
    { state: 'healthy', agoMs: 45_000, expected: 'offline' },
    { state: 'degraded', agoMs: 45_000, expected: 'offline' },
    { state: 'draining', agoMs: 40_000, expected: 'draining' },
    { state: 'offline', agoMs: 40_000, expected: 'offline' },
  ])('$state, last heartbeat written $agoMs ms ago → $expected', ({ state, agoMs, expected }) => {
    const agent = {
      state,
      lastHeartbeatAt: NOW - agoMs,
      memoryFreeBytes: 8 * GiB,
      memoryTotalBytes: 16 * GiB,
    };
    expect(effectiveState(agent, NOW, config)).toBe(expected);
  });

  it.each([
    { freeGiB: 1.6, totalGiB: 16, expected: 'healthy' },
    { freeGiB: 1.5, totalGiB: 16, expected: 'degraded' },
    { freeGiB: 0, totalGiB: 0, expected: 'healthy' },
  ])('$freeGiB of $totalGiB GiB free → $expected', ({ freeGiB, totalGiB, expected }) => {
    const agent = {
      state: 'healthy',
      lastHeartbeatAt: NOW,
      memoryFreeBytes: freeGiB * GiB,
      memoryTotalBytes: totalGiB * GiB,
    };
    expect(effectiveState(agent, NOW, config)).toBe(expected);
  });
});
