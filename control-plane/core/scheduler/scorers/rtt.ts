// Scorer: round trip to the agent, from the client's location when known, else from heartbeats.
import type { AgentView, PlacementRequest, Scorer, ScorerModule } from '../types.ts';

/** RTT at which the RTT score is one half. */
export const RTT_HALF_SCORE_MS = 50;
/** Light in fibre covers about 100 km per millisecond of round trip (200 km/ms each way). */
const KM_PER_RTT_MS = 100;
const EARTH_RADIUS_KM = 6371;

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

/** 1 at 0 ms, 0.5 at 50 ms, 0.25 at 150 ms; 0.5 when unknown. */
export const rttScore: Scorer = (agent, req) => {
  const rtt = estimatedRttMs(agent, req);
  if (!rtt) return 0.5;
  return RTT_HALF_SCORE_MS / (RTT_HALF_SCORE_MS + Math.max(0, rtt.ms));
};

export const rttScorer: ScorerModule = {
  name: 'rtt',
  label: 'round trip to the agent',
  defaultWeight: 0.2,
  score: rttScore,
};
