// Writes metadata-only GGUF v3 files (header + tensor infos, no tensor data) for estimate/selection tests.
import { writeFileSync } from 'node:fs';

type Value = string | number | bigint | boolean | string[];

export interface SyntheticModel {
  arch?: string;
  name?: string;
  fileType: number;
  /** ggml type of the big matrices. */
  tensorType: number;
  blockCount: number;
  embedding: number;
  feedForward: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  contextLength?: number;
}

/** Quant name → [llama ftype, ggml type of its main tensors]. */
export const SYNTHETIC_TYPES: Record<string, [number, number]> = {
  Q8_0: [7, 8],
  Q6_K: [18, 14],
  Q5_K_M: [17, 13],
  Q5_K_S: [16, 13],
  Q4_K_M: [15, 12],
  Q4_K_S: [14, 12],
  Q4_1: [3, 3],
  Q4_0: [2, 2],
  IQ4_XS: [30, 23],
  Q3_K_L: [13, 11],
  Q3_K_M: [12, 11],
  IQ3_M: [27, 21],
  Q2_K: [10, 10],
  IQ2_M: [29, 22],
};

class Buf {
  private parts: Buffer[] = [];
  get length() {
    return this.parts.reduce((n, p) => n + p.length, 0);
  }
  u32(n: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.parts.push(b);
  }
  u64(n: number | bigint) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.parts.push(b);
  }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.parts.push(b);
  }
  raw(b: Buffer) {
    this.parts.push(b);
  }
  done() {
    return Buffer.concat(this.parts);
  }
}

function writeValue(buf: Buf, v: Value) {
  if (typeof v === 'string') {
    buf.u32(8);
    buf.str(v);
  } else if (typeof v === 'boolean') {
    buf.u32(7);
    buf.raw(Buffer.from([v ? 1 : 0]));
  } else if (typeof v === 'bigint') {
    buf.u32(10);
    buf.u64(v);
  } else if (Array.isArray(v)) {
    buf.u32(9);
    buf.u32(8);
    buf.u64(v.length);
    for (const s of v) buf.str(s);
  } else if (Number.isInteger(v)) {
    buf.u32(4);
    buf.u32(v);
  } else {
    buf.u32(6);
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    buf.raw(b);
  }
}

export function syntheticGguf(m: SyntheticModel): Buffer {
  const arch = m.arch ?? 'llama';
  const headDim = m.embedding / m.heads;
  const kvDim = headDim * m.kvHeads;
  const kv: [string, Value][] = [
    ['general.architecture', arch],
    ['general.name', m.name ?? 'synthetic'],
    ['general.file_type', m.fileType],
    ['general.alignment', 32],
    [`${arch}.block_count`, m.blockCount],
    [`${arch}.context_length`, m.contextLength ?? 8192],
    [`${arch}.embedding_length`, m.embedding],
    [`${arch}.feed_forward_length`, m.feedForward],
    [`${arch}.attention.head_count`, m.heads],
    [`${arch}.attention.head_count_kv`, m.kvHeads],
    [`${arch}.vocab_size`, m.vocab],
  ];
  const t = m.tensorType;
  const tensors: [string, number[], number][] = [
    ['token_embd.weight', [m.embedding, m.vocab], t],
    ['output_norm.weight', [m.embedding], 0],
    ['output.weight', [m.embedding, m.vocab], t],
  ];
  for (let i = 0; i < m.blockCount; i++) {
    tensors.push(
      [`blk.${i}.attn_norm.weight`, [m.embedding], 0],
      [`blk.${i}.attn_q.weight`, [m.embedding, m.embedding], t],
      [`blk.${i}.attn_k.weight`, [m.embedding, kvDim], t],
      [`blk.${i}.attn_v.weight`, [m.embedding, kvDim], t],
      [`blk.${i}.attn_output.weight`, [m.embedding, m.embedding], t],
      [`blk.${i}.ffn_norm.weight`, [m.embedding], 0],
      [`blk.${i}.ffn_gate.weight`, [m.embedding, m.feedForward], t],
      [`blk.${i}.ffn_up.weight`, [m.embedding, m.feedForward], t],
      [`blk.${i}.ffn_down.weight`, [m.feedForward, m.embedding], t],
    );
  }
  const buf = new Buf();
  buf.raw(Buffer.from('GGUF', 'ascii'));
  buf.u32(3);
  buf.u64(tensors.length);
  buf.u64(kv.length);
  for (const [k, v] of kv) {
    buf.str(k);
    writeValue(buf, v);
  }
  let offset = 0n;
  for (const [name, dims] of tensors) {
    buf.str(name);
    buf.u32(dims.length);
    for (const d of dims) buf.u64(d);
    buf.u32(tensors.find((x) => x[0] === name)?.[2] ?? 0);
    buf.u64(offset);
    offset += 1024n; // offsets are not used by the estimate
  }
  const pad = (32 - (buf.length % 32)) % 32;
  buf.raw(Buffer.alloc(pad));
  return buf.done();
}

export function writeSyntheticGguf(path: string, m: SyntheticModel): string {
  writeFileSync(path, syntheticGguf(m));
  return path;
}

/** Shapes of real model families (from their published configs). */
export const SHAPES = {
  '135m': { blockCount: 30, embedding: 576, feedForward: 1536, heads: 9, kvHeads: 3, vocab: 49152 },
  '1b': {
    blockCount: 16,
    embedding: 2048,
    feedForward: 8192,
    heads: 32,
    kvHeads: 8,
    vocab: 128256,
  },
  '8b': {
    blockCount: 32,
    embedding: 4096,
    feedForward: 14336,
    heads: 32,
    kvHeads: 8,
    vocab: 128256,
  },
} as const;
