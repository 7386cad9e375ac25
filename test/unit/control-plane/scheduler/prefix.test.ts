// The prefix-affinity scorer: exact and partial matches, and a hot prefix under bounded load.
import { describe, expect, it } from 'vitest';
import { mcdaPolicy, parseWeights } from '../../../../control-plane/core/scheduler/mcda.ts';
import {
  prefixMatch,
  prefixScore,
} from '../../../../control-plane/core/scheduler/scorers/prefix.ts';
import { prefixDigest } from '../../../../protocol/prefix-digest.ts';
import { ctx, view } from './view.ts';

const system = { role: 'system', content: 'S'.repeat(3000) };
const turn1 = [system, { role: 'user', content: 'first question' }];
const turn2 = [
  ...turn1,
  { role: 'assistant', content: 'an answer' },
  { role: 'user', content: 'q2' },
];

const hashes = (d: { hash: string }[]) => new Set(d.map((e) => e.hash));

describe('prefix scorer', () => {
  it('scores an agent holding the whole prompt 1, one holding nothing 0, no digest 0.5', async () => {
    const prefix = await prefixDigest({ messages: turn1 });
    const req = { model: 'm', prefix };
    expect(
      prefixScore(view('a', { prefixes: hashes(prefix) }), req, { maxTokensPerSecond: 0 }),
    ).toBe(1);
    expect(
      prefixScore(view('b', { prefixes: new Set(['00000000']) }), req, { maxTokensPerSecond: 0 }),
    ).toBe(0);
    expect(prefixScore(view('c'), { model: 'm' }, { maxTokensPerSecond: 0 })).toBe(0.5);
  });

  it('scores a partial match by the share of characters held', async () => {
    const held = await prefixDigest({ messages: turn1 });
    const prefix = await prefixDigest({ messages: turn2 });
    const agent = view('a', { prefixes: hashes(held) });
    const match = prefixMatch(agent, { model: 'm', prefix });
    expect(match?.entries).toBe(held.length);
    expect(match?.chars).toBe(held.at(-1)?.chars);
    expect(prefixScore(agent, { model: 'm', prefix }, { maxTokensPerSecond: 0 })).toBeCloseTo(
      (held.at(-1)?.chars ?? 0) / (prefix.at(-1)?.chars ?? 1),
    );
    // Only the system prompt: a smaller share.
    const sysOnly = await prefixDigest({ messages: [system] });
    const other = view('b', { prefixes: hashes(sysOnly) });
    expect(prefixScore(other, { model: 'm', prefix }, { maxTokensPerSecond: 0 })).toBeLessThan(
      prefixScore(agent, { model: 'm', prefix }, { maxTokensPerSecond: 0 }),
    );
  });

  it('sends the second turn to the agent holding the first, over a less loaded one', async () => {
    const held = await prefixDigest({ messages: turn1 });
    const prefix = await prefixDigest({ messages: turn2 });
    const agents = [
      view('warm', { prefixes: hashes(held), reservedJobs: 1 }),
      view('cold', { reservedJobs: 0 }),
    ];
    const d = mcdaPolicy().decide(agents, { model: 'm', prefix }, ctx());
    expect(d.ranked[0]?.agent.id).toBe('warm');
    // Without the prefix scorer the idle agent wins.
    const without = mcdaPolicy({ weights: { ...parseWeights(undefined), prefix: 0 } });
    expect(without.decide(agents, { model: 'm', prefix }, ctx()).ranked[0]?.agent.id).toBe('cold');
  });

  it('takes the bonus from an agent the request would fill past the bound (hot prefix)', async () => {
    const prefix = await prefixDigest({ messages: turn1 });
    const hot = view('hot', { prefixes: hashes(prefix), maxJobs: 4, reservedJobs: 3 });
    expect(prefixScore(hot, { model: 'm', prefix }, { maxTokensPerSecond: 0 })).toBe(0);
    expect(
      prefixScore(hot, { model: 'm', prefix, prefixMaxLoad: 1 }, { maxTokensPerSecond: 0 }),
    ).toBe(1);
    const d = mcdaPolicy().decide([hot, view('cold')], { model: 'm', prefix }, ctx());
    expect(d.ranked[0]?.agent.id).toBe('cold');
  });
});
