// Heartbeat write coalescing: which heartbeats reach the database, and why.
import { describe, expect, it } from 'vitest';
import {
  heartbeatWriteReason,
  type IncomingLoad,
  type StoredLoad,
  sameMemory,
  schedulingMemory,
} from '../../../control-plane/core/heartbeats.ts';
import { leasesDiffer } from '../../../control-plane/core/registry.ts';

const GiB = 2 ** 30;
const policy = { livenessWriteIntervalMs: 15_000, loadWriteIntervalMs: 10_000 };
const stored: StoredLoad = {
  state: 'healthy',
  reportedJobs: 1,
  memoryFreeBytes: 40 * GiB,
  memoryTotalBytes: 80 * GiB,
  rttMs: 10,
  lastHeartbeatAt: 0,
};
const same: IncomingLoad = {
  state: 'healthy',
  reportedJobs: 1,
  memoryFreeBytes: 40 * GiB,
  memoryTotalBytes: 80 * GiB,
  rttMs: 10,
};

const cases: [string, Partial<IncomingLoad>, number, string | null][] = [
  ['nothing changed, recently written', {}, 5_000, null],
  ['nothing changed, liveness due', {}, 15_000, 'liveness'],
  ['draining is written at once', { state: 'draining' }, 1_000, 'state'],
  ['memory moved 10% but too soon', { memoryFreeBytes: 32 * GiB }, 5_000, null],
  ['memory moved 10% after the load interval', { memoryFreeBytes: 32 * GiB }, 10_000, 'load'],
  ['memory jitter of 2% is noise', { memoryFreeBytes: 38.4 * GiB }, 12_000, null],
  ['rtt jump from 10 to 40 ms', { rttMs: 40 }, 10_000, 'load'],
  ['rtt jitter of 3 ms is noise', { rttMs: 13 }, 12_000, null],
  ['job counts alone never write', { reportedJobs: 4 }, 12_000, null],
  ['a changed prefix digest, too soon', { prefixes: '0000000a' }, 5_000, null],
  ['a changed prefix digest after the load interval', { prefixes: '0000000a' }, 10_000, 'cache'],
  ['no prefix digest reported: nothing to write', { prefixes: undefined }, 12_000, null],
];

describe('heartbeatWriteReason', () => {
  it.each(cases)('%s', (_name, change, now, expected) => {
    expect(heartbeatWriteReason(stored, { ...same, ...change }, now, policy)).toBe(expected);
  });
});

describe('schedulingMemory', () => {
  it('plans with summed VRAM on GPU agents and RAM on CPU agents', () => {
    const base = {
      cpuCores: 8,
      cpuLoadPercent: 5,
      memoryTotalBytes: 64 * GiB,
      memoryFreeBytes: 32 * GiB,
    };
    expect(schedulingMemory({ ...base, gpus: [] })).toEqual({
      accelerator: 'cpu',
      memoryFreeBytes: 32 * GiB,
      memoryTotalBytes: 64 * GiB,
    });
    const gpu = (free: number) => ({
      index: 0,
      name: 'H200',
      memoryTotalBytes: 141 * GiB,
      memoryFreeBytes: free * GiB,
    });
    expect(schedulingMemory({ ...base, gpus: [gpu(100), gpu(20)] })).toEqual({
      accelerator: 'gpu',
      memoryFreeBytes: 120 * GiB,
      memoryTotalBytes: 282 * GiB,
    });
  });

  it('treats model memory figures within 5% as the same', () => {
    expect(sameMemory(100, 104)).toBe(true);
    expect(sameMemory(100, 110)).toBe(false);
    expect(sameMemory(null, undefined)).toBe(true);
    expect(sameMemory(null, 5)).toBe(false);
  });
});

describe('leasesDiffer (reconcile only when the job list differs from the leases held)', () => {
  const now = 100_000;
  const grace = 5_000;
  const lease = (jti: string, admittedAt: number | null, state = 'issued', issuedAt = 50_000) => ({
    jti,
    state,
    issuedAt,
    admittedAt,
    claimUntil: issuedAt + 3_000,
  });
  it.each([
    ['nothing held, nothing listed', [], [], false],
    ['the same jobs as held', [lease('a', 60_000), lease('b', 90_000)], ['b', 'a'], false],
    ['a listed job not yet confirmed', [lease('a', null)], ['a'], true],
    ['a confirmed job no longer listed, past the grace', [lease('a', 60_000)], [], true],
    ['a confirmed job no longer listed, inside the grace', [lease('a', 96_000)], [], false],
    ['a running job no longer listed, past the grace', [lease('a', null, 'running')], [], true],
    ['an unconfirmed job not listed (the claim window decides)', [lease('a', null)], [], false],
    ['a listed job the control plane does not hold', [], ['x'], false],
  ])('%s', (_name, held, listed, differs) => {
    expect(leasesDiffer(held, listed, now, grace)).toBe(differs);
  });
});
