// Fleet simulation with prefix reuse: multi-turn conversations sharing system prompts, and the same
// sizes with nothing to reuse, routed by MCDA with and without the prefix scorer and by the baseline
// policies, on the 11-agent fleet and on eight copies of it. Run: npm run bench -- fleet-sim-prefix
import {
  leastLoadedPolicy,
  powerOfTwoPolicy,
  roundRobinPolicy,
} from '../../control-plane/core/scheduler/baselines.ts';
import { mcdaPolicy } from '../../control-plane/core/scheduler/mcda.ts';
import { defaultWeights } from '../../control-plane/core/scheduler/registry.ts';
import type { Policy } from '../../control-plane/core/scheduler/types.ts';
import { table } from '../stats.ts';
import { type ConversationWorkload, conversationWorkload } from './conversations.ts';
import { capacityRps, fleet, type SimAgentSpec } from './fleet.ts';
import { rng, type SimResult, simulate } from './sim.ts';

const SEED = 42;
const DURATION_S = 300;
const WARMUP_MS = 30_000;
const LOADS = [0.5, 0.8];
const TURNS = 6;
const SYSTEM_TOKENS = 1_000;
const QUESTION_TOKENS = 30;
const ANSWER_TOKENS: [number, number] = [50, 200];
/** `--cache-per-slot N`: prompt chains each agent's KV cache holds per slot (CACHE_SEQUENCES). */
const at = process.argv.indexOf('--cache-per-slot');
const CACHE_PER_SLOT = at > 0 ? Math.max(1, Number(process.argv[at + 1])) : 1;

function policies(seed: number): { label: string; policy: Policy }[] {
  const { prefix: _, ...withoutPrefix } = defaultWeights();
  return [
    { label: 'mcda + prefix', policy: mcdaPolicy({ random: rng(seed) }) },
    { label: 'mcda', policy: mcdaPolicy({ weights: withoutPrefix, random: rng(seed) }) },
    { label: 'least-loaded', policy: leastLoadedPolicy(rng(seed + 2)) },
    { label: 'power-of-two', policy: powerOfTwoPolicy(rng(seed + 3)) },
    { label: 'round-robin', policy: roundRobinPolicy() },
  ];
}

/** Scenario B's fleet (every agent can hold the model), `copies` times over. */
function fleetOf(copies: number): SimAgentSpec[] {
  const base = fleet().filter((a) => a.id !== 'a1-slow-4');
  return Array.from({ length: copies }, (_, i) =>
    base.map((a) => ({ ...a, id: `${a.id}-${i}` })),
  ).flat();
}

interface Row {
  fleet: number;
  load: number;
  workload: string;
  label: string;
  r: SimResult;
}

function workloadFor(specs: SimAgentSpec[], load: number, distinct: boolean): ConversationWorkload {
  // Mean prompt over six turns without reuse: system + question + 2.5 earlier turns of history.
  const meanAnswer = (ANSWER_TOKENS[0] + ANSWER_TOKENS[1]) / 2;
  const meanPrompt =
    SYSTEM_TOKENS + QUESTION_TOKENS + ((TURNS - 1) / 2) * (QUESTION_TOKENS + meanAnswer);
  const requestsPerSecond = load * capacityRps(specs, meanAnswer, meanPrompt);
  const perConversation = distinct ? 1 : TURNS;
  const startsPerSecond = requestsPerSecond / perConversation;
  return {
    groups: Math.max(4, Math.round(specs.length / 3)),
    conversations: Math.round(startsPerSecond * DURATION_S),
    turns: TURNS,
    // The no-reuse requests get the mean multi-turn prompt as one distinct system prompt.
    systemTokens: distinct ? Math.round(meanPrompt - QUESTION_TOKENS) : SYSTEM_TOKENS,
    questionTokens: QUESTION_TOKENS,
    startsPerSecond,
    thinkMs: [2_000, 10_000],
    answerTokens: ANSWER_TOKENS,
    distinct,
  };
}

function ms(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v)) : 'never (failed)';
}

export async function benchFleetSimPrefix(): Promise<string> {
  const rows: Row[] = [];
  for (const copies of [1, 8]) {
    const specs = fleetOf(copies);
    for (const load of LOADS)
      for (const distinct of [false, true]) {
        const w = workloadFor(specs, load, distinct);
        for (const { label, policy } of policies(SEED)) {
          const { requests, followUp } = conversationWorkload(w, SEED);
          const r = simulate(policy, specs, requests, WARMUP_MS, {
            followUp,
            cachedChains: (spec) => spec.slots * CACHE_PER_SLOT,
          });
          rows.push({
            fleet: specs.length,
            load,
            workload: distinct ? 'no-reuse' : 'multi-turn',
            label,
            r,
          });
        }
      }
  }
  const out = table(
    [
      'agents',
      'load',
      'workload',
      'policy',
      'requests',
      'failed',
      'TTFT p50 ms',
      'TTFT p95 ms',
      'prompt tokens',
      'reused',
      'evaluated',
      'max / fair share',
      'its speed',
    ],
    rows.map(({ fleet: n, load, workload, label, r }) => [
      n,
      `${Math.round(load * 100)}%`,
      workload,
      label,
      r.requests,
      r.failed + (r.requests - r.completed - r.failed),
      ms(r.ttftP50),
      ms(r.ttftP95),
      r.promptTokens,
      r.reusedTokens,
      r.promptTokens - r.reusedTokens,
      r.maxShare.toFixed(2),
      `${r.maxShareSpeed}x`,
    ]),
  );
  return [
    `Fleets: scenario B's 11 agents (speeds 1x/2x/4x, 4 slots each) and 8 copies of it (88 agents); each agent's KV cache holds ${CACHE_PER_SLOT === 1 ? 'as many prompt chains as it has slots' : `${CACHE_PER_SLOT} prompt chains per slot (CACHE_SEQUENCES)`}. Multi-turn: conversations of ${TURNS} turns in groups (one per 3 agents, at least 4) sharing a ${SYSTEM_TOKENS}-token system prompt, ${QUESTION_TOKENS}-token questions, ${ANSWER_TOKENS.join('–')}-token answers fed back as history, 2–10 s think-time; no-reuse: one distinct prompt of the same mean size per conversation. Load = share of the fleet's capacity without reuse; ${DURATION_S} s of conversation starts (requests arriving in the first ${WARMUP_MS / 1000} s not counted), seed ${SEED}. "failed" counts requests that never got a first token.`,
    '',
    out,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchFleetSimPrefix());
}
