// What the agent reports its engine holds: the record per slot, and what a finished job adds to it.
import { describe, expect, it } from 'vitest';
import { PrefixRecord } from '../../../agent/prefix-record.ts';
import { type PrefixEntry, prefixDigest } from '../../../protocol/prefix-digest.ts';
import { chatBody, makeAgent, parseSSE, post } from './helpers.ts';

const entries = (...hashes: string[]): PrefixEntry[] =>
  hashes.map((hash, i) => ({ hash, chars: 10 * (i + 1) }));

describe('PrefixRecord', () => {
  it('keeps one chain per named sequence: whole chains first, most recent first, then shorter prefixes', () => {
    const r = new PrefixRecord(2);
    r.record(entries('0000000a', '0000000b'), 0);
    r.record(entries('0000000c'), 1);
    expect(r.held()).toEqual(['0000000c', '0000000b', '0000000a']);
    // Sequence 0 ran another job: what it held before is gone.
    r.record(entries('0000000d'), 0);
    expect(r.held()).toEqual(['0000000d', '0000000c']);
  });

  it('places an unnamed prompt in the slot sharing its prefix, else the least recently used', () => {
    const r = new PrefixRecord(2);
    r.record(entries('0000000a', '0000000b'));
    r.record(entries('0000000c'));
    r.record(entries('0000000a', '0000000b', '0000000e'));
    expect(r.held()).toEqual(['0000000e', '0000000c', '0000000b', '0000000a']);
    // Both slots taken, nothing shared: the least recently used (…c) is replaced.
    r.record(entries('0000000f'));
    expect(r.held()).toEqual(['0000000f', '0000000e', '0000000b', '0000000a']);
  });

  it('with many cached sequences, the cap keeps every conversation before shorter prefixes', () => {
    const r = new PrefixRecord(8);
    // Eight conversations of 12 links each sharing a 5-link system prompt: 8 × 7 + 5 = 61 hashes.
    const system = ['5a000000', '5a000001', '5a000002', '5a000003', '5a000004'];
    for (let c = 0; c < 8; c++) {
      const own = Array.from({ length: 7 }, (_, i) => `c${c}00000${i}`);
      r.record(entries(...system, ...own), c);
    }
    const held = r.held(48);
    expect(held).toHaveLength(48);
    // Every conversation's whole chain, the oldest included, is there.
    for (let c = 0; c < 8; c++) expect(held).toContain(`c${c}000006`);
    expect(held.slice(0, 8)).toEqual(Array.from({ length: 8 }, (_, i) => `c${7 - i}000006`));
  });

  it('caps what it reports', () => {
    const r = new PrefixRecord(1);
    r.record(entries(...Array.from({ length: 60 }, (_, i) => i.toString(16).padStart(8, '0'))), 0);
    expect(r.held(48)).toHaveLength(48);
    expect(r.held(48)[0]).toBe((59).toString(16).padStart(8, '0'));
  });
});

describe('a finished job', () => {
  it('reports the conversation up to its answer as held, and its cached prompt tokens', async () => {
    const prefixes = new PrefixRecord(4);
    const agent = await makeAgent({
      prefixes,
      engine: { tokens: ['Hel', 'lo!'], cachedPromptTokens: 7 },
    });
    const body = chatBody({ stream: true, stream_options: { include_usage: true } });
    const res = await post(agent, '/v1/chat/completions', body, await agent.ticket());
    const events = parseSSE(await res.text()) as { usage?: unknown }[];
    expect(events.find((e) => e.usage)?.usage).toMatchObject({
      prompt_tokens_details: { cached_tokens: 7 },
    });
    const next = await prefixDigest({
      messages: [...body.messages, { role: 'assistant', content: 'Hello!' }],
    });
    const report = agent.reports[0]?.report;
    expect(report?.cachedPromptTokens).toBe(7);
    expect(report?.prefixes).toEqual(next.map((e) => e.hash).reverse());
    expect(prefixes.held()).toEqual(report?.prefixes);
  });

  it('reports nothing held when the agent keeps no record', async () => {
    const agent = await makeAgent();
    await (await post(agent, '/v1/chat/completions', chatBody(), await agent.ticket())).text();
    expect(agent.reports[0]?.report.prefixes).toBeUndefined();
  });
});
