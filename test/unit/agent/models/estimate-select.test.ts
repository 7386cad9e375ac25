// Memory estimates from GGUF headers (synthetic and the bundled model) and variant selection over memory sizes.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cpuRepackFor,
  estimateMemory,
  type GgufHeader,
  headerQuant,
  kvCells,
  readGgufHeader,
  tensorBytes,
} from '../../../../agent/models/gguf-estimate.ts';
import { QUANTS, quantByName, tierForMemory } from '../../../../agent/models/quant.ts';
import { type Candidate, memoryBudget, selectVariant } from '../../../../agent/models/select.ts';
import { startFileServer } from './file-server.ts';
import { SHAPES, SYNTHETIC_TYPES, writeSyntheticGguf } from './gguf-writer.ts';

const BUNDLED = join(
  import.meta.dirname,
  '../../../../.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf',
);
const GiB = 2 ** 30;
let dir: string;
const headers = new Map<string, GgufHeader>(); // `${shape}/${quant}`

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'titan-gguf-'));
  for (const [shape, dims] of Object.entries(SHAPES)) {
    for (const [quant, [fileType, tensorType]] of Object.entries(SYNTHETIC_TYPES)) {
      const path = writeSyntheticGguf(join(dir, `${shape}-${quant}.gguf`), {
        ...dims,
        fileType,
        tensorType,
      });
      headers.set(`${shape}/${quant}`, await readGgufHeader(path));
    }
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function candidates(shape: string, ctx = 4096, seqs = 1): Candidate[] {
  return Object.keys(SYNTHETIC_TYPES).map((q) => {
    const quant = quantByName(q);
    const header = headers.get(`${shape}/${q}`);
    if (!quant || !header) throw new Error(q);
    const memoryBytes = estimateMemory(header, { contextSize: ctx, sequences: seqs }).totalBytes;
    return { tag: `m:${shape}-${q.toLowerCase()}`, quant, memoryBytes };
  });
}

describe('estimateMemory', () => {
  it('reads the file type and shape back from a written header', () => {
    const h = headers.get('8b/Q4_K_M');
    expect(h && headerQuant(h)?.name).toBe('Q4_K_M');
    expect(h?.blockCount).toBe(32);
    expect(h?.headCountKv).toBe(8);
    expect(h?.vocabSize).toBe(128256);
  });

  it('sizes weights by ggml block layout: an 8B model at Q8_0 is ~8.5 bits per weight', () => {
    const h = headers.get('8b/Q8_0');
    if (!h) throw new Error('missing');
    const e = estimateMemory(h, { contextSize: 4096, sequences: 1 });
    const params = h.tensors.reduce(
      (n, t) => n + t.dimensions.reduce<number>((a, d) => a * Number(d), 1),
      0,
    );
    expect((e.weightsBytes * 8) / params).toBeCloseTo(8.5, 2);
    // 32 layers × 4096 cells × (8 kv heads × 128) × (K + V) × 2 bytes
    expect(e.kvCacheBytes).toBe(32 * 4096 * 1024 * 2 * 2);
  });

  it('gives the KV cache every sequence its own context, padded to 256 cells', () => {
    expect(kvCells(2048, 4)).toBe(8192);
    expect(kvCells(100, 3)).toBe(512);
    const h = headers.get('135m/Q8_0');
    if (!h) throw new Error('missing');
    const one = estimateMemory(h, { contextSize: 2048, sequences: 1 }).kvCacheBytes;
    const four = estimateMemory(h, { contextSize: 2048, sequences: 4 }).kvCacheBytes;
    expect(four).toBe(4 * one);
    expect(four).toBe(30 * 8192 * 192 * 2 * 2);
  });

  it('adds the CPU repack copies of Q4_0/Q4_K/Q2_K/IQ4_NL matmul weights, never of token_embd', () => {
    const h = headers.get('1b/Q4_0');
    const q8 = headers.get('1b/Q8_0');
    if (!h || !q8) throw new Error('missing');
    const plain = estimateMemory(h, { contextSize: 512, sequences: 1 });
    const x86 = estimateMemory(h, { contextSize: 512, sequences: 1, cpuRepack: 'x86' });
    const embd = h.tensors.find((t) => t.name === 'token_embd.weight');
    const norms = h.tensors.filter((t) => t.ggmlType === 0).reduce((n, t) => n + tensorBytes(t), 0);
    if (!embd) throw new Error('no token_embd');
    expect(plain.repackBytes).toBe(0);
    expect(x86.repackBytes).toBe(plain.weightsBytes - tensorBytes(embd) - norms);
    expect(x86.totalBytes - plain.totalBytes).toBe(x86.repackBytes);
    // Q8_0 is repacked on ARM only.
    expect(
      estimateMemory(q8, { contextSize: 512, sequences: 1, cpuRepack: 'x86' }).repackBytes,
    ).toBe(0);
    expect(
      estimateMemory(q8, { contextSize: 512, sequences: 1, cpuRepack: 'arm' }).repackBytes,
    ).toBeGreaterThan(0);
  });

  it('adds the AMX copies of Q4_1/Q8_0/F16 matmul weights with 32-row multiples on AMX CPUs', () => {
    const q8 = headers.get('1b/Q8_0');
    if (!q8) throw new Error('missing');
    const amx = estimateMemory(q8, { contextSize: 512, sequences: 1, cpuRepack: 'x86-amx' });
    const matmul = q8.tensors
      .filter((t) => t.name !== 'token_embd.weight' && t.dimensions.length >= 2)
      .filter((t) => t.ggmlType === 8 && Number(t.dimensions[1]) % 32 === 0)
      .reduce((n, t) => n + tensorBytes(t), 0);
    expect(matmul).toBeGreaterThan(0);
    expect(amx.repackBytes).toBe(matmul);
    expect(cpuRepackFor('x64', new Set(['avx2', 'amx_int8']))).toBe('x86-amx');
    expect(cpuRepackFor('x64', new Set(['avx2']))).toBe('x86');
    expect(cpuRepackFor('arm64', new Set())).toBe('arm');
  });

  it('matches the bundled model: weights = the tensor data in the file', async () => {
    const h = await readGgufHeader(BUNDLED);
    expect(headerQuant(h)?.name).toBe('Q4_1');
    const e = estimateMemory(h, { contextSize: 2048, sequences: 4 });
    const fileBytes = statSync(BUNDLED).size;
    // Tensor data is the file minus its header (≈1.8 MB of vocabulary); alignment padding is < 32 B per tensor.
    expect(e.weightsBytes).toBeLessThanOrEqual(fileBytes - 1_700_000);
    expect(e.weightsBytes).toBeGreaterThan(fileBytes - 1_800_000 - 32 * h.tensors.length);
  });

  it('reads a header over HTTP with Range requests, not the whole file', async () => {
    const server = await startFileServer({ '/m.gguf': { path: BUNDLED } });
    try {
      const h = await readGgufHeader(`${server.url}/m.gguf`);
      expect(h.architecture).toBe('llama');
      expect(h.tensors).toHaveLength(272);
      expect(server.requests.length).toBeGreaterThan(0);
      for (const r of server.requests) expect(r.headers.range).toMatch(/^bytes=\d+-\d+$/);
    } finally {
      await server.close();
    }
  });
});

describe('selectVariant', () => {
  const sizes = [0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 24].map((g) => g * GiB);

  for (const shape of Object.keys(SHAPES)) {
    it(`${shape}: picks the best-ranked variant whose estimate fits the budget, at every memory size`, () => {
      const all = candidates(shape);
      let lastRank = Number.POSITIVE_INFINITY;
      for (const available of sizes) {
        const sel = selectVariant(all, { availableBytes: available });
        const budget = memoryBudget(available);
        const oracle = all
          .filter((c) => c.memoryBytes <= budget)
          .sort((a, b) => a.quant.qualityRank - b.quant.qualityRank)[0];
        expect(sel.chosen?.tag).toBe(oracle?.tag);
        expect(sel.tier).toBe(tierForMemory(available));
        // More memory never picks a worse variant.
        const rank = sel.chosen?.quant.qualityRank ?? Number.POSITIVE_INFINITY;
        expect(rank).toBeLessThanOrEqual(lastRank);
        lastRank = rank;
        expect(sel.considered).toHaveLength(all.length);
      }
    });
  }

  it('8B: the original tiers map onto memory as designed', () => {
    const all = candidates('8b');
    const pick = (gib: number) => selectVariant(all, { availableBytes: gib * GiB }).chosen?.quant;
    expect(pick(16)?.name).toBe('Q8_0');
    expect(pick(10)?.name).toBe('Q8_0');
    expect(pick(8.5)?.tier).toBe('premium'); // Q6_K
    expect(pick(7)?.tier).toBe('high');
    expect(pick(5)?.tier).toBe('good');
    expect(pick(4)?.tier).toBe('emergency');
    expect(pick(2)).toBeUndefined();
  });

  it('a pin makes only that variant eligible, and only where it fits', () => {
    const all = candidates('1b');
    const sel = selectVariant(all, { availableBytes: 16 * GiB, pin: 'Q2_K' });
    expect(sel.chosen?.quant.name).toBe('Q2_K');
    const q8 = all.find((c) => c.quant.name === 'Q8_0');
    if (!q8) throw new Error('missing');
    const tight = selectVariant(all, { availableBytes: q8.memoryBytes, pin: 'Q8_0' });
    expect(tight.chosen).toBeUndefined();
    expect(tight.considered.find((c) => c.quant === 'Q8_0')?.reason).toMatch(/budget/);
  });

  it('prefers Q4_0 on ARM CPUs over the other 4-bit types, never over 5-bit ones', () => {
    const all = candidates('1b').filter((c) => !['Q4_1'].includes(c.quant.name));
    const arm = { arch: 'arm64', cpuOnly: true };
    const q4km = all.find((c) => c.quant.name === 'Q4_K_M')?.memoryBytes ?? 0;
    const q5 = all.find((c) => c.quant.name === 'Q5_K_M')?.memoryBytes ?? 0;
    const between = (q4km + q5) / 2 / 0.9;
    expect(selectVariant(all, { availableBytes: between, platform: arm }).chosen?.quant.name).toBe(
      'Q4_0',
    );
    expect(selectVariant(all, { availableBytes: between }).chosen?.quant.name).toBe('Q4_K_M');
    expect(
      selectVariant(all, { availableBytes: between, platform: { arch: 'arm64', cpuOnly: false } })
        .chosen?.quant.name,
    ).toBe('Q4_K_M');
    expect(selectVariant(all, { availableBytes: 16 * GiB, platform: arm }).chosen?.quant.name).toBe(
      'Q8_0',
    );
  });

  it('prefers Q4_0 to Q4_1 on x86-64 CPUs (repacked kernels), never to Q4_K_M', () => {
    const fours = candidates('1b').filter((c) => ['Q4_1', 'Q4_0'].includes(c.quant.name));
    const x86 = { arch: 'x64', cpuOnly: true };
    const roomy = 16 * GiB;
    expect(selectVariant(fours, { availableBytes: roomy, platform: x86 }).chosen?.quant.name).toBe(
      'Q4_0',
    );
    expect(selectVariant(fours, { availableBytes: roomy }).chosen?.quant.name).toBe('Q4_1');
    expect(
      selectVariant(fours, { availableBytes: roomy, platform: { arch: 'x64', cpuOnly: false } })
        .chosen?.quant.name,
    ).toBe('Q4_1');
    const withKM = candidates('1b').filter((c) =>
      ['Q4_K_M', 'Q4_1', 'Q4_0'].includes(c.quant.name),
    );
    expect(selectVariant(withKM, { availableBytes: roomy, platform: x86 }).chosen?.quant.name).toBe(
      'Q4_K_M',
    );
  });
});

describe('quant table', () => {
  it('has the 13 tiered types of the original design in rank order, tiers by memory', () => {
    const tiered = QUANTS.filter((q) => ['premium', 'high', 'good', 'emergency'].includes(q.tier));
    const names = tiered.map((q) => q.name).filter((n) => n !== 'Q4_0' && n !== 'Q4_1');
    expect(names).toEqual([
      'Q8_0',
      'Q6_K_L',
      'Q6_K',
      'Q5_K_M',
      'Q5_K_S',
      'Q4_K_M',
      'Q4_K_S',
      'IQ4_XS',
      'Q3_K_L',
      'Q3_K_M',
      'IQ3_M',
      'Q2_K',
      'IQ2_M',
    ]);
    const ranks = QUANTS.map((q) => q.qualityRank);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect([3.9, 4, 5.9, 6, 7.9, 8].map((g) => tierForMemory(g * GiB))).toEqual([
      'emergency',
      'good',
      'good',
      'high',
      'high',
      'premium',
    ]);
  });
});
