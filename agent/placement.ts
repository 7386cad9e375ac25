// What the agent tells the scheduler about where it is and how much memory it offers.
import type { AgentStats } from '../protocol/agent-api.ts';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 2 ** 10,
  m: 1e6,
  mb: 1e6,
  mib: 2 ** 20,
  g: 1e9,
  gb: 1e9,
  gib: 2 ** 30,
  t: 1e12,
  tb: 1e12,
  tib: 2 ** 40,
};

/** Parses "512MiB", "8GB", "1073741824". */
export function parseBytes(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const factor = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || factor === undefined)
    throw new Error(`cannot parse a size from '${raw}' (e.g. 512MiB, 8GB)`);
  return Math.round(Number(m[1]) * factor);
}

/** Parses "52.52,13.40" (latitude,longitude). */
export function parseLocation(raw: string): { latitude: number; longitude: number } {
  const [lat, lon, extra] = raw.split(',').map((s) => Number(s.trim()));
  if (
    lat === undefined ||
    lon === undefined ||
    extra !== undefined ||
    !(Math.abs(lat) <= 90) ||
    !(Math.abs(lon) <= 180)
  ) {
    throw new Error(`location must be 'latitude,longitude', got '${raw}'`);
  }
  return { latitude: lat, longitude: lon };
}

/**
 * Caps the memory this agent offers the scheduler (MEMORY_LIMIT), like a GPU memory fraction:
 * total becomes the limit and free what the agent process has not used of it. GPUs are capped the
 * same way, each to the limit.
 */
export function applyMemoryLimit(
  stats: AgentStats,
  limitBytes: number,
  usedBytes: number,
): AgentStats {
  const free = Math.max(0, limitBytes - usedBytes);
  return {
    ...stats,
    memoryTotalBytes: Math.min(stats.memoryTotalBytes, limitBytes),
    memoryFreeBytes: Math.min(stats.memoryFreeBytes, free),
    gpus: stats.gpus.map((g) => ({
      ...g,
      memoryTotalBytes: Math.min(g.memoryTotalBytes, limitBytes),
      memoryFreeBytes: Math.min(g.memoryFreeBytes, free),
    })),
  };
}
