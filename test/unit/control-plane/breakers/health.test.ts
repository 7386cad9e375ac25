// Late heartbeats make a healthy agent degraded (derived, no write); other states are kept.
import { describe, expect, it } from 'vitest';
import { effectiveState } from '../../../../control-plane/breakers/health.ts';

const config = { livenessWriteIntervalMs: 15_000, heartbeatIntervalMs: 5_000 };
const NOW = 1_000_000;

describe('effectiveState', () => {
  it.each([
    { state: 'healthy', agoMs: 25_000, expected: 'healthy' },
    { state: 'healthy', agoMs: 25_001, expected: 'degraded' },
    { state: 'degraded', agoMs: 1_000, expected: 'degraded' },
    { state: 'draining', agoMs: 40_000, expected: 'draining' },
    { state: 'offline', agoMs: 40_000, expected: 'offline' },
  ])('$state, last heartbeat written $agoMs ms ago → $expected', ({ state, agoMs, expected }) => {
    expect(effectiveState(state, NOW - agoMs, NOW, config)).toBe(expected);
  });
});
