// A time-stepped simulation of one policy routing Poisson arrivals over the simulated fleet.
// The policies are the real ones from control-plane/core/scheduler, fed AgentViews built from sim
// state, and every policy reserves as the control plane does (routing.ts): it walks its ranking
// and takes the first agent whose breaker admits the request and that has a free slot (the guarded
// lease); when none does, the client waits RETRY_MS and asks again (a 503 with Retry-After).
// Breakers are the real ones (breakers/policy.ts): failures trip them, successes close them.
// With prefix chains on the requests (conversations.ts), each agent keeps a KV cache of the chains
// its last jobs ran and reports it as an agent does (prefix scorer input); a job whose chain
// matches skips prefilling the matched tokens.

import { heldHashes } from '../../agent/prefix-record.ts';
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
import { matchPrefix, type PrefixEntry } from '../../protocol/prefix-digest.ts';
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
  /** The prompt's prefix chain (protocol/prefix-digest.ts); `chars` are 4 per prompt token here. */
  prefix?: PrefixEntry[];
  /** A conversation's request: its id and turn (1-based), for the follow-up that comes after it. */
  conversation?: { id: number; turn: number };
}

/** Characters per prompt token in simulated prefix chains (a chain entry's `chars` / 4 = tokens). */
export const CHARS_PER_TOKEN = 4;

export interface SimOptions {
  /** The request a conversation sends after this one finished at `doneMs`, if any. */
  followUp?: (done: SimRequest, doneMs: number) => SimRequest | null;
  /** Prefix chains an agent's KV cache holds at once (its sequences); default its slots. */
  cachedChains?: (spec: SimAgentSpec) => number;
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
  /** The chains in its KV cache, most recently used first. */
  chains: PrefixEntry[][];
  /** What it reports: the chains' hashes, most recent first, capped as a heartbeat is. */
  reported: Set<string>;
  served: number;
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
  /** Prompt tokens of counted requests, and how many of them the KV cache already held. */
  promptTokens: number;
  reusedTokens: number;
  /** The most any agent served over its fair share of the counted requests (by capacity). */
  maxShare: number;
  /** That agent's speed (1x, 2x, 4x): a fast agent above its share at half load is a choice. */
  maxShareSpeed: number;
}

/** The chain in `chains` sharing the longest prefix with `prefix`: its index and matched tokens. */
function bestChain(
  chains: PrefixEntry[][],
  prefix: PrefixEntry[],
): { index: number; tokens: number } {
  let best = { index: -1, tokens: 0 };
  chains.forEach((chain, index) => {
    const { chars } = matchPrefix(prefix, new Set(chain.map((e) => e.hash)));
    if (chars / CHARS_PER_TOKEN > best.tokens) best = { index, tokens: chars / CHARS_PER_TOKEN };
  });
  return best;
}

function reportedHashes(chains: PrefixEntry[][]): Set<string> {
  return new Set(heldHashes(chains.map((chain) => chain.map((e) => e.hash))));
}

export function simulate(
  policy: Policy,
  specs: SimAgentSpec[],
  requests: SimRequest[],
  warmupMs: number,
  opts: SimOptions = {},
): SimResult {
  const cachedChains = opts.cachedChains ?? ((spec: SimAgentSpec) => spec.slots);
  const agents: AgentState[] = specs.map((spec) => ({
    spec,
    loaded: spec.modelLoaded,
    loadingUntil: null,
    memoryFreeBytes: spec.memoryFreeBytes,
    queue: [],
    active: [],
    tps: null,
    breaker: CLOSED,
    chains: [],
    reported: new Set<string>(),
    served: 0,
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
  let promptTokens = 0;
  let reusedTokens = 0;
  let total = 0;
  const counted = (r: SimRequest) => r.arrivalMs >= warmupMs;
  let lastArrival = requests[requests.length - 1]?.arrivalMs ?? 0;
  const arrive = (req: SimRequest) => {
    pending.push({ req, tryAt: req.arrivalMs });
    if (counted(req)) total++;
    lastArrival = Math.max(lastArrival, req.arrivalMs);
  };

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
      prefixes: a.reported,
    }));

  for (let now = 0; now < lastArrival + 180_000; now += DT_MS) {
    while (next < requests.length && (requests[next] as SimRequest).arrivalMs <= now) {
      arrive(requests[next] as SimRequest);
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
        { model: MODEL, prefix: p.req.prefix },
        {
          now,
          liveAfter: now - 30_000,
          breakerAdmits: ({ id }) => {
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
        const job = a.queue.shift() as Job;
        if (job.prefix) {
          // The job takes over the sequence holding its longest cached prefix, or the oldest one;
          // while the cache has room, a fresh one instead when taking it would erase more than it
          // reuses (agent/engines/sequence-pool.ts).
          const hit = bestChain(a.chains, job.prefix);
          const held =
            hit.index >= 0 ? (a.chains[hit.index]?.at(-1)?.chars ?? 0) / CHARS_PER_TOKEN : 0;
          const room = a.chains.length + a.active.length < cachedChains(a.spec);
          const fresh = room && (hit.index < 0 || held - hit.tokens > hit.tokens);
          const reused = fresh ? 0 : Math.min(hit.tokens, job.promptTokens - 1);
          job.prefillLeft = job.promptTokens - reused;
          if (!fresh) a.chains.splice(hit.index >= 0 ? hit.index : cachedChains(a.spec) - 1, 1);
          if (counted(job)) reusedTokens += reused;
        }
        if (counted(job)) promptTokens += job.promptTokens;
        a.active.push(job);
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
        if (job.prefix) {
          // Its job report tells the control plane what the agent now holds.
          a.chains.unshift(job.prefix);
          a.chains.length = Math.min(a.chains.length, cachedChains(a.spec));
          a.reported = reportedHashes(a.chains);
        }
        const followUp = opts.followUp?.(job, now + DT_MS);
        if (followUp) arrive(followUp);
        if (counted(job)) {
          a.served++;
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
  // An agent's fair share is its share of the fleet's capacity (speed × slots).
  const capacity = (a: AgentState) => a.spec.speed * a.spec.slots;
  const fleetCapacity = agents.reduce((sum, a) => sum + capacity(a), 0);
  const shares = agents.map((a) => a.served / ((completed * capacity(a)) / fleetCapacity));
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
    promptTokens,
    reusedTokens,
    maxShare: completed > 0 ? Math.max(...shares) : 0,
    maxShareSpeed: agents[shares.indexOf(Math.max(...shares))]?.spec.speed ?? 0,
  };
}
