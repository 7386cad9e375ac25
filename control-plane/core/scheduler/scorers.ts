// Scorers: each maps one signal to [0, 1], higher is better. Normalisations are in scheduler/README.md.
import { memoryNeeded } from './filters.ts';
import type { AgentView, PlacementRequest, PoolStats, Scorer, ScorerName } from './types.ts';

/** RTT at which the RTT score is one half. */
export const RTT_HALF_SCORE_MS = 50;
/** Light in fibre covers about 100 km per millisecond of round trip (200 km/ms each way). */
const KM_PER_RTT_MS = 100;
const EARTH_RADIUS_KM = 6371;

const clamp01 = (x: number) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

/** Great-circle distance in km. */
export function haversineKm(
  a: { latitude: number; longitude: number },
  b: { latitude: number; longitude: number },
) {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * The RTT signal: client-to-agent distance when both locations are known (Workers' request.cf),
 * else the agent's own measured RTT to the control plane. Null when neither is known.
 */
export function estimatedRttMs(
  agent: AgentView,
  req: PlacementRequest,
): { ms: number; source: 'geo' | 'heartbeat' } | null {
  if (req.clientLocation && agent.latitude !== null && agent.longitude !== null) {
    const km = haversineKm(req.clientLocation, {
      latitude: agent.latitude,
      longitude: agent.longitude,
    });
    return { ms: km / KM_PER_RTT_MS, source: 'geo' };
  }
  if (agent.rttMs !== null) return { ms: agent.rttMs, source: 'heartbeat' };
  return null;
}

/** Share of the agent's memory still free after loading the model (loaded models cost nothing). */
export const memoryScore: Scorer = (agent) => {
  if (agent.memoryTotalBytes <= 0) return 0.5;
  return clamp01((agent.memoryFreeBytes - memoryNeeded(agent)) / agent.memoryTotalBytes);
};

/** Share of job slots still free. */
export const slotsScore: Scorer = (agent) =>
  agent.maxJobs > 0 ? clamp01((agent.maxJobs - agent.reservedJobs) / agent.maxJobs) : 0;

/** 1 at 0 ms, 0.5 at 50 ms, 0.25 at 150 ms; 0.5 when unknown. */
export const rttScore: Scorer = (agent, req) => {
  const rtt = estimatedRttMs(agent, req);
  if (!rtt) return 0.5;
  return RTT_HALF_SCORE_MS / (RTT_HALF_SCORE_MS + Math.max(0, rtt.ms));
};

/** Tokens/s relative to the fastest candidate; 0.5 for an agent with no reports yet. */
export const performanceScore: Scorer = (agent, _req, pool) => {
  if (agent.tokensPerSecond === null || agent.tokensPerSecond <= 0) return 0.5;
  return pool.maxTokensPerSecond > 0
    ? clamp01(agent.tokensPerSecond / pool.maxTokensPerSecond)
    : 0.5;
};

export function poolStats(agents: readonly AgentView[]): PoolStats {
  let maxTokensPerSecond = 0;
  for (const a of agents) {
    if (a.tokensPerSecond !== null && a.tokensPerSecond > maxTokensPerSecond)
      maxTokensPerSecond = a.tokensPerSecond;
  }
  return { maxTokensPerSecond };
}

export const SCORERS: Record<ScorerName, Scorer> = {
  memory: memoryScore,
  slots: slotsScore,
  rtt: rttScore,
  performance: performanceScore,
};
