// The simulated fleet: heterogeneous agents (speed 1x/2x/4x, different memory and RTT), one model
// that is not loaded everywhere, and one agent too small to load it at all.
export const GiB = 2 ** 30;
export const MODEL = 'llama-3.1-8b:q4_k_m';
export const MODEL_BYTES = 6 * GiB;

export interface SimAgentSpec {
  id: string;
  /** Decode and prefill speed relative to the slowest agent. */
  speed: number;
  slots: number;
  memoryTotalBytes: number;
  memoryFreeBytes: number;
  rttMs: number;
  modelLoaded: boolean;
}

/** Decode tokens/s of one stream on a 1x agent running alone. */
export const BASE_DECODE_TPS = 40;
/** Prompt tokens/s of prefill on a 1x agent. */
export const BASE_PREFILL_TPS = 1_500;
/** Per-stream slowdown per extra concurrent stream: rate = base·speed / (1 + α(n−1)). */
export const CONTENTION = 0.3;
/** Loading the model from disk into memory, on a 1x agent. */
export const LOAD_MS = 6_000;

function agent(
  id: string,
  speed: number,
  memGiB: number,
  freeGiB: number,
  rttMs: number,
  loaded: boolean,
): SimAgentSpec {
  return {
    id,
    speed,
    slots: 4,
    memoryTotalBytes: memGiB * GiB,
    memoryFreeBytes: freeGiB * GiB,
    rttMs,
    modelLoaded: loaded,
  };
}

export function fleet(): SimAgentSpec[] {
  return [
    agent('a1-slow-1', 1, 24, 12, 8, true),
    agent('a1-slow-2', 1, 24, 14, 40, true),
    agent('a1-slow-3', 1, 24, 20, 12, false),
    agent('a1-slow-4', 1, 16, 4, 10, false), // cannot fit the model: 4 GiB free < 6 GiB
    agent('a2-mid-1', 2, 48, 30, 15, true),
    agent('a2-mid-2', 2, 48, 20, 60, true),
    agent('a2-mid-3', 2, 48, 36, 5, false),
    agent('a2-mid-4', 2, 48, 40, 25, true),
    agent('a4-fast-1', 4, 80, 50, 20, true),
    agent('a4-fast-2', 4, 80, 60, 80, true),
    agent('a4-fast-3', 4, 80, 70, 10, false),
    agent('a4-fast-4', 4, 80, 40, 30, true),
  ];
}

/** Requests per second the fleet sustains with every slot busy (agents that can hold the model). */
export function capacityRps(
  agents: SimAgentSpec[],
  meanOutputTokens: number,
  meanPromptTokens: number,
): number {
  let rps = 0;
  for (const a of agents) {
    if (!a.modelLoaded && a.memoryFreeBytes < MODEL_BYTES) continue;
    const perStream = (BASE_DECODE_TPS * a.speed) / (1 + CONTENTION * (a.slots - 1));
    const seconds = meanOutputTokens / perStream + meanPromptTokens / (BASE_PREFILL_TPS * a.speed);
    rps += a.slots / seconds;
  }
  return rps;
}
