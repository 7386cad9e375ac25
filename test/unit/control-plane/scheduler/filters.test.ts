// Table-driven tests for each scheduler filter.
import { describe, expect, it } from 'vitest';
import { breakerAdmits } from '../../../../control-plane/core/scheduler/filters/breaker.ts';
import { isLive } from '../../../../control-plane/core/scheduler/filters/live.ts';
import { memoryFits } from '../../../../control-plane/core/scheduler/filters/memory.ts';
import { hasFreeSlot } from '../../../../control-plane/core/scheduler/filters/slots.ts';
import type { AgentView, Filter } from '../../../../control-plane/core/scheduler/types.ts';
import { ctx, GiB, NOW, view } from './view.ts';

const req = { model: 'm' };

const cases: [string, Filter, Partial<AgentView>, string | null, Parameters<typeof ctx>[0]?][] = [
  ['live agent passes', isLive, {}, null],
  ['offline agent', isLive, { state: 'offline' }, 'offline'],
  ['draining agent', isLive, { state: 'draining' }, 'draining'],
  ['degraded agent stays routable', isLive, { state: 'degraded' }, null],
  ['stale heartbeat', isLive, { lastHeartbeatAt: NOW - 60_000 }, 'no heartbeat for 60 s'],
  [
    'heartbeat exactly at the cutoff is stale',
    isLive,
    { lastHeartbeatAt: NOW - 45_000 },
    'no heartbeat for 45 s',
  ],
  ['breaker closed', breakerAdmits, {}, null],
  ['breaker open', breakerAdmits, {}, 'circuit breaker open', { breakerAdmits: () => false }],
  ['loaded model fits', memoryFits, { modelLoaded: true, memoryFreeBytes: 10 * GiB }, null],
  [
    'unloaded model that fits',
    memoryFits,
    { modelLoaded: false, modelMemoryBytes: 20 * GiB },
    null,
  ],
  [
    'unloaded model too big',
    memoryFits,
    { modelLoaded: false, modelMemoryBytes: 39 * GiB },
    'model needs 39936 MiB, 40960 MiB VRAM free',
  ],
  [
    'memory pressure even when loaded',
    memoryFits,
    { modelLoaded: true, memoryFreeBytes: 2 * GiB },
    'memory pressure: 2048 of 81920 MiB VRAM free',
  ],
  [
    'CPU agents are judged on RAM',
    memoryFits,
    { accelerator: 'cpu', modelLoaded: false, memoryFreeBytes: 1 * GiB, memoryTotalBytes: 8 * GiB },
    'model needs 10240 MiB, 1024 MiB RAM free',
  ],
  [
    'unknown model size is not filtered',
    memoryFits,
    { modelLoaded: false, modelMemoryBytes: null },
    null,
  ],
  [
    'agent without memory figures is not filtered',
    memoryFits,
    { memoryTotalBytes: 0, memoryFreeBytes: 0 },
    null,
  ],
  ['free slot', hasFreeSlot, { reservedJobs: 3 }, null],
  ['all slots busy', hasFreeSlot, { reservedJobs: 4 }, 'all 4 slots busy'],
];

describe('filters', () => {
  it.each(cases)('%s', (_name, filter, over, expected, c) => {
    expect(filter(view('a', over), req, ctx(c))).toBe(expected);
  });
});
