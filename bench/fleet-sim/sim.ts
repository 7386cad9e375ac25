// A time-stepped simulation of one policy routing Poisson arrivals over the simulated fleet.
// The policies are the real ones from control-plane/core/scheduler, fed AgentViews built from sim
// state, and every policy reserves as the control plane does (routing.ts): it walks its ranking
// and takes the first agent whose breaker admits the request and that has a free slot (the guarded
// lease); when none does, the client waits RETRY_MS and asks again (a 503 with Retry-After).
// Breakers are the real ones (breakers/policy.ts): failures trip them, successes close them.
import {
  admits,
  type BreakerFields,
  CLOSED,
  DEFAULT_BREAKER_CONFIG,
  onFailure,
  onSuccess,
  phaseOf,
} from '../../control-plane/core/breakers/policy.ts';
import type { AgentView, Policy } from '../../control-plane/core/scheduler/types.ts';
import { summarize } from '../stats.ts';
import {
  BASE_DECODE_TPS,
  BASE_PREFILL_TPS,
  CONTENTION,
  LOAD_MS,
  MODEL,
  MODEL_BYTES,
  type SimAgentSpec,
} from './fleet.ts';

/** Deterministic PRNG (mulberry32) so every policy sees the same arrivals. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimRequest {
  arrivalMs: number;
  promptTokens: number;
  outputTokens: number;
}

export function poissonArrivals(rps: number, durationMs: number, seed: number): SimRequest[] {
  const r = rng(seed);
  const out: SimRequest[] = [];
  for (let t = 0; ; ) {
    t += (-Math.log(1 - r()) / rps) * 1000;
    if (t >= durationMs) return out;
    out.push({
      arrivalMs: t,
      promptTokens: 100 + Math.floor(r() * 400),
      outputTokens: 50 + Math.floor(r() * 250),
    });
  }
}

interface Job extends SimRequest {
  /** When its lease was taken (a ticket's issuedAt, for the breaker). */
  issuedAtMs: number;
  readyAtMs: number;
  prefillLeft: number;
  decodeLeft: number;
  firstTokenMs?: number;
  decodeStartMs?: number;
}

interface AgentState {
  spec: SimAgentSpec;
  loaded: boolean;
  loadingUntil: number | null;
  memoryFreeBytes: number;
  queue: Job[];
  active: Job[];
  tps: number | null;
  breaker: BreakerFields;
}

/** Clients retry a 503 (no agent free) after this long. */
export const RETRY_MS = 100;
const DT_MS = 5;
const GOODPUT_TTFT_MS = 500;

export interface SimResult {
  policy: string;
  requests: number;
  completed: number;
  failed: number;
  ttftP50: number;
  ttftP95: number;
  throughputTps: number;
  goodput: number;
}

export function simulate(
  policy: Policy,
  specs: SimAgentSpec[],
  requests: SimRequest[],
  warmupMs: number,
): SimResult {
  const agents: AgentState[] = specs.map((spec) => ({
    spec,
    loaded: spec.modelLoaded,
    loadingUntil: null,
    memoryFreeBytes: spec.memoryFreeBytes,
    queue: [],
    active: [],
    tps: null,
    breaker: CLOSED,
  }));
  const cfg = DEFAULT_BREAKER_CONFIG;
  /** No more than maxEjectionShare of the fleet open at once, as the control plane enforces. */
  const mayEject = (now: number) =>
    agents.filter((a) => phaseOf(a.breaker, now) !== 'closed').length + 1 <=
    cfg.maxEjectionShare * agents.length;
  const pending: { req: SimRequest; tryAt: number }[] = [];
  const ttfts: number[] = [];
  let next = 0;
  let completed = 0;
  let failed = 0;
  let outputTokens = 0;
  let good = 0;
  const counted = (r: SimRequest) => r.arrivalMs >= warmupMs;
  const lastArrival = requests[requests.length - 1]?.arrivalMs ?? 0;
  const endMs = lastArrival + 180_000;

  const views = (now: number): AgentView[] =>
    agents.map((a) => ({
      id: a.spec.id,
      url: a.spec.id,
      state: 'healthy',
      lastHeartbeatAt: now,
      maxJobs: a.spec.slots,
      reservedJobs: a.active.length + a.queue.length,
      accelerator: 'gpu',
      memoryFreeBytes: a.memoryFreeBytes,
      memoryTotalBytes: a.spec.memoryTotalBytes,
      modelLoaded: a.loaded,
      modelMemoryBytes: MODEL_BYTES,
      rttMs: a.spec.rttMs,
      tokensPerSecond: a.tps,
      latitude: null,
      longitude: null,
      breaker: a.breaker,
    }));

  for (let now = 0; now < endMs; now += DT_MS) {
    while (next < requests.length && (requests[next] as SimRequest).arrivalMs <= now) {
      pending.push({ req: requests[next] as SimRequest, tryAt: now });
      next++;
    }
    // Dispatch: every due request asks the policy, as a client asks the control plane.
    for (let i = 0; i < pending.length; ) {
      const p = pending[i] as (typeof pending)[number];
      if (p.tryAt > now) {
        i++;
        continue;
      }
      const listed = views(now);
      const d = policy.decide(
        listed,
        { model: MODEL },
        {
          now,
          liveAfter: now - 30_000,
          breakerAdmits: (id) => {
            const b = agents.find((x) => x.spec.id === id)?.breaker ?? CLOSED;
            return admits(b, now, cfg);
          },
        },
      );
      // The guarded lease: the first ranked agent with a free slot whose breaker admits it.
      const a = d.ranked
        .map((r) => agents.find((x) => x.spec.id === r.agent.id) as AgentState)
        .find(
          (x) => admits(x.breaker, now, cfg) && x.active.length + x.queue.length < x.spec.slots,
        );
      if (!a) {
        p.tryAt = now + RETRY_MS;
        i++;
        continue;
      }
      pending.splice(i, 1);
      if (phaseOf(a.breaker, now) === 'half-open')
        a.breaker = { ...a.breaker, probes: a.breaker.probes + 1, probeAt: now };
      if (!a.loaded && a.loadingUntil === null && a.memoryFreeBytes < MODEL_BYTES) {
        // The agent cannot hold the model: the request fails (out of memory), and its breaker counts it.
        failed += counted(p.req) ? 1 : 0;
        a.breaker =
          onFailure(a.breaker, { issuedAt: now, now, mayEject: mayEject(now) }, cfg) ?? a.breaker;
        continue;
      }
      a.queue.push({
        ...p.req,
        issuedAtMs: now,
        readyAtMs: now + a.spec.rttMs / 2,
        prefillLeft: p.req.promptTokens,
        decodeLeft: p.req.outputTokens,
      });
    }
    for (const a of agents) {
      if (!a.loaded) {
        if (a.loadingUntil === null && a.queue.length > 0)
          a.loadingUntil = now + LOAD_MS / a.spec.speed;
        if (a.loadingUntil !== null && now >= a.loadingUntil) {
          a.loaded = true;
          a.memoryFreeBytes -= MODEL_BYTES;
        } else continue;
      }
      while (
        a.active.length < a.spec.slots &&
        a.queue.length > 0 &&
        (a.queue[0] as Job).readyAtMs <= now
      ) {
        a.active.push(a.queue.shift() as Job);
      }
      const share = 1 + CONTENTION * (a.active.length - 1);
      const prefill = ((BASE_PREFILL_TPS * a.spec.speed) / share) * (DT_MS / 1000);
      const decode = ((BASE_DECODE_TPS * a.spec.speed) / share) * (DT_MS / 1000);
      for (let j = 0; j < a.active.length; ) {
        const job = a.active[j] as Job;
        if (job.prefillLeft > 0) {
          job.prefillLeft -= prefill;
          if (job.prefillLeft <= 0) {
            job.firstTokenMs = now + DT_MS + a.spec.rttMs / 2;
            job.decodeStartMs = now + DT_MS;
          }
          j++;
          continue;
        }
        job.decodeLeft -= decode;
        if (job.decodeLeft > 0) {
          j++;
          continue;
        }
        a.active.splice(j, 1);
        const seconds = (now + DT_MS - (job.decodeStartMs ?? now)) / 1000;
        const tps = job.outputTokens / Math.max(seconds, 0.001);
        a.tps = a.tps === null ? tps : 0.8 * a.tps + 0.2 * tps;
        a.breaker = onSuccess(a.breaker, { issuedAt: job.issuedAtMs, now }) ?? a.breaker;
        if (counted(job)) {
          const ttft = (job.firstTokenMs ?? now) - job.arrivalMs;
          completed++;
          outputTokens += job.outputTokens;
          ttfts.push(ttft);
          if (ttft < GOODPUT_TTFT_MS) good++;
        }
      }
    }
    if (
      next >= requests.length &&
      pending.length === 0 &&
      agents.every((a) => a.active.length === 0 && a.queue.length === 0)
    )
      break;
  }
  const total = requests.filter(counted).length;
  // Failed and unfinished requests never got a first token: they count as infinitely slow.
  while (ttfts.length < total) ttfts.push(Number.POSITIVE_INFINITY);
  const s = summarize(ttfts);
  return {
    policy: policy.name,
    requests: total,
    completed,
    failed,
    ttftP50: s.p50,
    ttftP95: s.p95,
    throughputTps: outputTokens / ((lastArrival - warmupMs) / 1000),
    goodput: total > 0 ? good / total : 0,
  };
}
