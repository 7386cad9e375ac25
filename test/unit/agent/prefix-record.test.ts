// What the agent reports its engine holds: the record per slot, and what a finished job adds to it.
import { describe, expect, it } from 'vitest';
import { PrefixRecord } from '../../../agent/prefix-record.ts';
import { type PrefixEntry, prefixDigest } from '../../../protocol/prefix-digest.ts';
import { chatBody, makeAgent, parseSSE, post } from './helpers.ts';

const entries = (...hashes: string[]): PrefixEntry[] =>
  hashes.map((hash, i) => ({ hash, chars: 10 * (i + 1) }));

describe('PrefixRecord', () => {
  it('keeps one chain per named sequence, most recent first, longest prefix first', () => {
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
    expect(r.held()).toEqual(['0000000e', '0000000b', '0000000a', '0000000c']);
    // Both slots taken, nothing shared: the least recently used (…c) is replaced.
    r.record(entries('0000000f'));
    expect(r.held()).toEqual(['0000000f', '0000000e', '0000000b', '0000000a']);
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
