// The prefix digest: its vectors (shared with the workerd run), its chain property, and matching.
import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import {
  digestOfBody,
  extendDigest,
  MAX_PREFIX_ENTRIES,
  matchPrefix,
  PREFIX_BLOCK_CHARS,
  prefixDigest,
} from '../../../protocol/prefix-digest.ts';
import { DIGEST_VECTORS } from './prefix-digest-vectors.ts';

describe('prefix digest', () => {
  for (const v of DIGEST_VECTORS) {
    it(`vector: ${v.name}`, async () => {
      expect(await digestOfBody(v.body)).toEqual(v.expected);
    });
  }

  it('gives the vectors through WebCrypto too (browsers: no node:crypto)', async () => {
    vi.resetModules();
    vi.stubGlobal('process', { ...process, getBuiltinModule: undefined });
    const subtle = vi.spyOn(crypto.subtle, 'digest');
    try {
      const web = await import('../../../protocol/prefix-digest.ts');
      for (const v of DIGEST_VECTORS) expect(await web.digestOfBody(v.body)).toEqual(v.expected);
      expect(subtle).toHaveBeenCalled();
    } finally {
      subtle.mockRestore();
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });

  it('is SHA-256 of the previous hash, a message mark and the canonical text (node:crypto agrees)', async () => {
    const first = createHash('sha256').update('\u0001user\nHello').digest('hex').slice(0, 8);
    const second = createHash('sha256')
      .update(`${first}\u0001assistant\nHi`)
      .digest('hex')
      .slice(0, 8);
    const d = await prefixDigest({
      messages: [
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Hi' },
      ],
    });
    expect(d).toEqual([
      { hash: first, chars: 10 },
      { hash: second, chars: 22 },
    ]);
  });

  it('gives the same first k entries to requests that share their first k messages', async () => {
    const shared = [
      { role: 'system', content: 'x'.repeat(3 * PREFIX_BLOCK_CHARS + 5) },
      { role: 'user', content: 'one' },
    ];
    const a = await prefixDigest({ messages: [...shared, { role: 'user', content: 'A' }] });
    const b = await prefixDigest({ messages: [...shared, { role: 'user', content: 'B' }] });
    expect(a.slice(0, 5)).toEqual(b.slice(0, 5));
    expect(a[5]?.hash).not.toBe(b[5]?.hash);
    // Extending a chain gives what hashing the whole conversation gives.
    expect(await extendDigest(a.slice(0, 5), [{ role: 'user', content: 'A' }])).toEqual(a);
  });

  it('never hashes a block continuation like a message start', async () => {
    const long = await prefixDigest({
      messages: [{ role: 'user', content: `${'y'.repeat(PREFIX_BLOCK_CHARS - 5)}user\nz` }],
    });
    const two = await prefixDigest({
      messages: [
        { role: 'user', content: 'y'.repeat(PREFIX_BLOCK_CHARS - 5) },
        { role: 'user', content: 'z' },
      ],
    });
    expect(long.map((e) => e.hash)).not.toContain(two[1]?.hash);
  });

  it('stops at MAX_PREFIX_ENTRIES', async () => {
    const d = await prefixDigest({
      prompt: 'p'.repeat((MAX_PREFIX_ENTRIES + 3) * PREFIX_BLOCK_CHARS),
    });
    expect(d).toHaveLength(MAX_PREFIX_ENTRIES);
  });

  it('has no digest for embeddings or prompt batches', () => {
    expect(digestOfBody({ input: 'x' })).toBeUndefined();
    expect(digestOfBody({ prompt: ['a', 'b'] })).toBeUndefined();
    expect(digestOfBody(null)).toBeUndefined();
  });

  it('matches the longest held entry and its share of the characters', async () => {
    const d = await prefixDigest({
      messages: [
        { role: 'system', content: 'abc' },
        { role: 'user', content: 'def' },
        { role: 'user', content: 'ghi' },
      ],
    });
    expect(matchPrefix(d, new Set([d[1]?.hash as string]))).toEqual({
      entries: 2,
      chars: d[1]?.chars,
      share: (d[1]?.chars as number) / (d[2]?.chars as number),
    });
    expect(matchPrefix(d, new Set(['00000000']))).toEqual({ entries: 0, chars: 0, share: 0 });
    expect(matchPrefix(d, new Set([d[2]?.hash as string])).share).toBe(1);
  });
});
