// The fleet simulation's prefix model: conversations send their next turn after each answer, a
// job whose chain an agent holds skips that part of its prefill, and MCDA with the prefix scorer
// sends follow-up turns back to the agent holding them.
import { describe, expect, it } from 'vitest';
import { conversationWorkload } from '../../../bench/fleet-sim/conversations.ts';
import { fleet } from '../../../bench/fleet-sim/fleet.ts';
import { rng, simulate } from '../../../bench/fleet-sim/sim.ts';
import { roundRobinPolicy } from '../../../control-plane/core/scheduler/baselines.ts';
import { mcdaPolicy } from '../../../control-plane/core/scheduler/mcda.ts';

const specs = fleet().filter((a) => a.modelLoaded && a.speed === 2);

function workload(
  distinct: boolean,
  more: Partial<Parameters<typeof conversationWorkload>[0]> = {},
) {
  return conversationWorkload(
    {
      groups: 2,
      conversations: 6,
      turns: 3,
      systemTokens: 1_000,
      questionTokens: 30,
      startsPerSecond: 0.5,
      thinkMs: [500, 1_000],
      answerTokens: [20, 40],
      distinct,
      ...more,
    },
    7,
  );
}

describe('fleet simulation with prefix reuse', () => {
  it('sends every turn of every conversation and counts reused tokens', () => {
    const { requests, followUp } = workload(false);
    const r = simulate(mcdaPolicy({ random: rng(1) }), specs, requests, 0, { followUp });
    expect(r.requests).toBe(18);
    expect(r.completed).toBe(18);
    // Turns 2 and 3 find their conversation's earlier prompt on the agent that served it.
    expect(r.reusedTokens).toBeGreaterThan(12 * 1_000);
    expect(r.reusedTokens).toBeLessThan(r.promptTokens);
  });

  it('reuses more with the prefix scorer than round-robin does', () => {
    const a = workload(false);
    const withPrefix = simulate(mcdaPolicy({ random: rng(1) }), specs, a.requests, 0, {
      followUp: a.followUp,
    });
    const b = workload(false);
    const rr = simulate(roundRobinPolicy(), specs, b.requests, 0, { followUp: b.followUp });
    expect(withPrefix.reusedTokens).toBeGreaterThan(rr.reusedTokens);
  });

  it('keeps more conversations with more cached chains than slots (CACHE_SEQUENCES)', () => {
    const run = (perSlot: number) => {
      // One agent with 4 slots, twelve conversations in flight: more than a chain per slot holds.
      const w = workload(false, { conversations: 12, startsPerSecond: 2, thinkMs: [3_000, 6_000] });
      return simulate(roundRobinPolicy(), specs.slice(0, 1), w.requests, 0, {
        followUp: w.followUp,
        cachedChains: (spec) => spec.slots * perSlot,
      });
    };
    expect(run(4).reusedTokens).toBeGreaterThan(run(1).reusedTokens);
  });

  it('reuses nothing when every prompt is distinct', () => {
    const { requests, followUp } = workload(true);
    const r = simulate(mcdaPolicy({ random: rng(1) }), specs, requests, 0, { followUp });
    expect(r.requests).toBe(6);
    expect(r.reusedTokens).toBe(0);
    expect(r.promptTokens).toBe(6 * 1_030);
  });
});
