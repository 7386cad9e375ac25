// Machine stats: nvidia-smi CSV parsing on a real H200 capture, a probe that never spams errors,
// and CPU load from tick counters.
import { readFileSync } from 'node:fs';
import type { CpuInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  createCpuLoadMeter,
  createGpuProbe,
  createStatsCollector,
  NVIDIA_SMI_ARGS,
  parseNvidiaSmiCsv,
} from '../../../agent/stats.ts';
import { agentStatsSchema } from '../../../protocol/agent-api.ts';

const fixture = readFileSync(
  new URL('../../fixtures/gpu/query-noheader-nounits.csv', import.meta.url),
  'utf8',
);
const MIB = 1024 * 1024;

describe('parseNvidiaSmiCsv', () => {
  it('parses the real H200 output (MiB → bytes)', () => {
    expect(parseNvidiaSmiCsv(fixture)).toEqual([
      {
        index: 0,
        name: 'NVIDIA H200',
        memoryTotalBytes: 143771 * MIB,
        memoryFreeBytes: 143156 * MIB,
        utilizationPercent: 0,
      },
    ]);
  });

  it('queries exactly the columns of the fixture', () => {
    const readme = readFileSync(new URL('../../fixtures/gpu/README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`nvidia-smi ${NVIDIA_SMI_ARGS.join(' ')}`);
  });

  it('handles several GPUs, [N/A] cells, commas in names and blank lines', () => {
    const text = [
      '0, NVIDIA H100 80GB HBM3, GPU-a, 81559, 10, 81000, 35, 40, 120.5, 580.1',
      '',
      '1, Tesla T4, rev A, GPU-b, 15360, 0, 15000, [N/A], 30, [N/A], 580.1',
      '2, Broken, GPU-c, [N/A], 0, [N/A], 0, 0, 0, 580.1',
      'garbage',
    ].join('\n');
    const gpus = parseNvidiaSmiCsv(text);
    expect(gpus).toHaveLength(2);
    expect(gpus[0]).toMatchObject({
      index: 0,
      name: 'NVIDIA H100 80GB HBM3',
      utilizationPercent: 35,
    });
    expect(gpus[1]).toEqual({
      index: 1,
      name: 'Tesla T4, rev A',
      memoryTotalBytes: 15360 * MIB,
      memoryFreeBytes: 15000 * MIB,
    });
  });

  it('parses a custom column layout', () => {
    const gpus = parseNvidiaSmiCsv('3, 1000, 400, A10', [
      'index',
      'memory.total',
      'memory.free',
      'name',
    ]);
    expect(gpus).toEqual([
      { index: 3, name: 'A10', memoryTotalBytes: 1000 * MIB, memoryFreeBytes: 400 * MIB },
    ]);
  });
});

describe('createGpuProbe', () => {
  it('runs nvidia-smi with the fixture query and parses its output', async () => {
    const calls: (readonly string[])[] = [];
    const probe = createGpuProbe({
      exec: async (_file, args) => {
        calls.push(args);
        return fixture;
      },
    });
    expect(await probe()).toHaveLength(1);
    expect(calls[0]).toEqual(NVIDIA_SMI_ARGS);
  });

  it('returns no GPUs without an nvidia-smi binary, and stops trying', async () => {
    let calls = 0;
    const warnings: string[] = [];
    const probe = createGpuProbe({
      exec: async () => {
        calls++;
        throw Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' });
      },
      log: { info() {}, warn: (m) => warnings.push(m), error() {} },
    });
    expect(await probe()).toEqual([]);
    expect(await probe()).toEqual([]);
    expect(calls).toBe(1);
    expect(warnings).toEqual([]);
  });

  it('warns once when nvidia-smi fails (driver trouble, timeout)', async () => {
    const warnings: string[] = [];
    const probe = createGpuProbe({
      exec: async () => {
        throw new Error('NVIDIA-SMI has failed');
      },
      log: { info() {}, warn: (m) => warnings.push(m), error() {} },
    });
    await probe();
    await probe();
    expect(warnings).toHaveLength(1);
  });
});

describe('createStatsCollector', () => {
  it('reports this machine in the protocol shape', async () => {
    const stats = await createStatsCollector({ gpus: async () => [] }).collect();
    expect(agentStatsSchema.parse(stats)).toEqual(stats);
    expect(stats.memoryTotalBytes).toBeGreaterThan(0);
    expect(stats.memoryFreeBytes).toBeLessThanOrEqual(stats.memoryTotalBytes);
  });

  it('reports the CPU load its meter measured', async () => {
    const stats = await createStatsCollector({
      gpus: async () => [],
      cpuLoad: () => 37.5,
    }).collect();
    expect(stats.cpuLoadPercent).toBe(37.5);
  });
});

describe('createCpuLoadMeter', () => {
  const core = (user: number, sys: number, idle: number): CpuInfo => ({
    model: 'test',
    speed: 0,
    times: { user, nice: 0, sys, idle, irq: 0 },
  });

  it('gives the busy share of all cores between two calls, from tick counters', () => {
    const snapshots = [
      [core(100, 50, 850), core(0, 0, 1000)],
      // +300 busy of +1000 on core 0, +100 busy of +1000 on core 1: 20% in all.
      [core(350, 100, 1550), core(100, 0, 1900)],
      [core(350, 100, 1550), core(100, 0, 1900)],
    ];
    let i = 0;
    const meter = createCpuLoadMeter(() => snapshots[Math.min(i++, snapshots.length - 1)] ?? []);
    expect(meter()).toBeCloseTo(7.5); // since boot: 150 busy of 2000
    expect(meter()).toBeCloseTo(20);
    expect(meter()).toBe(0); // no ticks passed
  });

  it('reads this machine: a share between 0 and 100', () => {
    const meter = createCpuLoadMeter();
    meter();
    const load = meter();
    expect(load).toBeGreaterThanOrEqual(0);
    expect(load).toBeLessThanOrEqual(100);
  });
});
