// Machine stats for register/heartbeat: RAM and cores (systeminformation), CPU load (os.cpus()
// tick counters), GPU memory (nvidia-smi).
import { execFile } from 'node:child_process';
import { availableParallelism, type CpuInfo, cpus } from 'node:os';
import si from 'systeminformation';
import type { AgentStats, GpuStats } from '../protocol/agent-api.ts';
import { type Logger, silentLogger } from './log.ts';

/** Columns we ask nvidia-smi for: the same layout as test/fixtures/gpu (a real H200 capture). */
export const NVIDIA_SMI_FIELDS = [
  'index',
  'name',
  'uuid',
  'memory.total',
  'memory.used',
  'memory.free',
  'utilization.gpu',
  'temperature.gpu',
  'power.draw',
  'driver_version',
] as const;

export const NVIDIA_SMI_ARGS = [
  `--query-gpu=${NVIDIA_SMI_FIELDS.join(',')}`,
  '--format=csv,noheader,nounits',
];

const MIB = 1024 * 1024;

/** A number, or undefined for `[N/A]`, `[Not Supported]` and other non-numeric cells. */
function numberCell(cell: string | undefined): number | undefined {
  if (cell === undefined || cell === '' || cell.startsWith('[')) return undefined;
  const value = Number(cell);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Parses `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits` output (memory in MiB).
 * GPUs whose memory is not reported are skipped.
 */
export function parseNvidiaSmiCsv(
  text: string,
  fields: readonly string[] = NVIDIA_SMI_FIELDS,
): GpuStats[] {
  const nameAt = fields.indexOf('name');
  const gpus: GpuStats[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    let cells = line.split(',').map((cell) => cell.trim());
    // A name containing commas arrives unquoted: fold the surplus cells back into it.
    const surplus = cells.length - fields.length;
    if (surplus > 0 && nameAt >= 0) {
      const name = cells.slice(nameAt, nameAt + surplus + 1).join(', ');
      cells = [...cells.slice(0, nameAt), name, ...cells.slice(nameAt + surplus + 1)];
    }
    if (cells.length !== fields.length) continue;
    const cell = (field: string) => cells[fields.indexOf(field)];
    const index = numberCell(cell('index'));
    const total = numberCell(cell('memory.total'));
    const free = numberCell(cell('memory.free'));
    if (index === undefined || total === undefined || free === undefined) continue;
    const gpu: GpuStats = {
      index,
      name: (cell('name') ?? '').slice(0, 200),
      memoryTotalBytes: total * MIB,
      memoryFreeBytes: free * MIB,
    };
    const utilization = numberCell(cell('utilization.gpu'));
    if (utilization !== undefined) gpu.utilizationPercent = Math.min(100, Math.max(0, utilization));
    gpus.push(gpu);
  }
  return gpus;
}

export type ExecFileFn = (
  file: string,
  args: readonly string[],
  options: { timeout: number },
) => Promise<string>;

export const execFileText: ExecFileFn = (file, args, options) =>
  new Promise((resolve, reject) => {
    execFile(file, args, { timeout: options.timeout, windowsHide: true }, (err, stdout) => {
      if (err) reject(err);
      else resolve(String(stdout));
    });
  });

/** Runs nvidia-smi without blocking; no binary means no GPUs, said once, never an error. */
export function createGpuProbe(
  options: { exec?: ExecFileFn; timeoutMs?: number; log?: Logger; binary?: string } = {},
): () => Promise<GpuStats[]> {
  const exec = options.exec ?? execFileText;
  const log = options.log ?? silentLogger;
  let available = true;
  let warned = false;
  return async () => {
    if (!available) return [];
    try {
      const out = await exec(options.binary ?? 'nvidia-smi', NVIDIA_SMI_ARGS, {
        timeout: options.timeoutMs ?? 2000,
      });
      return parseNvidiaSmiCsv(out);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') {
        available = false;
        return [];
      }
      if (!warned) {
        warned = true;
        log.warn('nvidia-smi failed; reporting no GPUs', {
          error: err instanceof Error ? err.message.split('\n')[0] : String(err),
        });
      }
      return [];
    }
  };
}

/**
 * CPU busy percent over all cores since the previous call (the first: since boot), from the tick
 * counters of `os.cpus()`. Not systeminformation's `currentLoad()`: on Linux it runs
 * `execSync('cat /proc/stat | grep cpu')` on every call, which holds the agent's event loop, and
 * so every stream it serves, for 4–8 ms on an idle host and ~27 ms under load, once per
 * heartbeat (ADR 0008).
 */
export function createCpuLoadMeter(read: () => readonly CpuInfo[] = cpus): () => number {
  const totals = () => {
    let busy = 0;
    let all = 0;
    for (const { times } of read()) {
      const sum = times.user + times.nice + times.sys + times.irq + times.idle;
      all += sum;
      busy += sum - times.idle;
    }
    return { busy, all };
  };
  let last = { busy: 0, all: 0 };
  return () => {
    const now = totals();
    const all = now.all - last.all;
    const busy = now.busy - last.busy;
    last = now;
    return all > 0 ? Math.min(100, Math.max(0, (100 * busy) / all)) : 0;
  };
}

export interface StatsCollector {
  collect(): Promise<AgentStats>;
}

export function createStatsCollector(
  options: { gpus?: () => Promise<GpuStats[]>; cpuLoad?: () => number; log?: Logger } = {},
): StatsCollector {
  const gpus = options.gpus ?? createGpuProbe(options.log ? { log: options.log } : {});
  const cpuLoad = options.cpuLoad ?? createCpuLoadMeter();
  let cores: Promise<number> | undefined;
  return {
    async collect() {
      cores ??= si
        .cpu()
        .then((cpu) => cpu.cores || availableParallelism())
        .catch(() => availableParallelism());
      const loadPercent = cpuLoad();
      const [cpuCores, mem, gpuList] = await Promise.all([cores, si.mem(), gpus()]);
      return {
        cpuCores: Math.max(1, Math.round(cpuCores)),
        cpuLoadPercent: Number.isFinite(loadPercent) ? loadPercent : 0,
        memoryTotalBytes: mem.total,
        // "available" counts reclaimable page cache: what a model load can actually use.
        memoryFreeBytes: mem.available || mem.free,
        gpus: gpuList.slice(0, 64),
      };
    },
  };
}
