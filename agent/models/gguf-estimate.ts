// Memory a GGUF model needs, from its header only (local file or HTTP range requests): weights + KV + compute.
import { readFileSync } from 'node:fs';
import { importNodeLlamaCpp } from '../engines/embedded-module.ts';
import { type QuantType, quantByFileType } from './quant.ts';

/** What the estimate needs from a GGUF header. */
export interface GgufHeader {
  architecture: string;
  name: string | undefined;
  /** `general.file_type` (llama ftype), when present. */
  fileType: number | undefined;
  blockCount: number;
  embeddingLength: number;
  headCount: number;
  /** Per layer when the model varies it. */
  headCountKv: number | number[];
  keyLength: number | undefined;
  valueLength: number | undefined;
  vocabSize: number;
  feedForwardLength: number | undefined;
  trainContextLength: number | undefined;
  tensors: { name: string; dimensions: readonly (number | bigint)[]; ggmlType: number }[];
}

/** [elements per block, bytes per block] for each ggml type id (ggml.h). */
const GGML_BLOCKS: Record<number, readonly [number, number]> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  9: [32, 36], // Q8_1
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K
  16: [256, 66], // IQ2_XXS
  17: [256, 74], // IQ2_XS
  18: [256, 98], // IQ3_XXS
  19: [256, 50], // IQ1_S
  20: [32, 18], // IQ4_NL
  21: [256, 110], // IQ3_S
  22: [256, 82], // IQ2_S
  23: [256, 136], // IQ4_XS
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  29: [256, 56], // IQ1_M
  30: [1, 2], // BF16
  34: [256, 54], // TQ1_0
  35: [256, 66], // TQ2_0
  39: [32, 17], // MXFP4
};

export class GgufEstimateError extends Error {
  override readonly name = 'GgufEstimateError';
}

export function tensorBytes(t: GgufHeader['tensors'][number]): number {
  const block = GGML_BLOCKS[t.ggmlType];
  if (!block) throw new GgufEstimateError(`tensor ${t.name}: unsupported ggml type ${t.ggmlType}`);
  const elements = t.dimensions.reduce<number>((n, d) => n * Number(d), 1);
  return Math.ceil(elements / block[0]) * block[1];
}

export interface EstimateOptions {
  /** Tokens of context per sequence. */
  contextSize: number;
  /** Parallel sequences (one per concurrent job). */
  sequences: number;
  /** Logical batch size (node-llama-cpp: min(context × sequences, 512)). */
  batchSize?: number;
  /**
   * CPU weight repacking (llama.cpp's CPU_REPACK buffers): on CPU-only x86-64 and ARM hosts,
   * llama.cpp copies matmul weights of some types into an interleaved layout at load time, and the
   * mapped originals stay resident too. Default: none (GPU offload, or repacking unknown).
   */
  cpuRepack?: CpuRepack | false;
}

/** x86-amx: an x86-64 CPU with AMX (Sapphire Rapids and later), whose kernels take more types. */
export type CpuRepack = 'x86' | 'x86-amx' | 'arm';

/**
 * ggml types llama.cpp's CPU backend repacks (ggml-cpu/repack.cpp): on x86-64 (AVX2) Q4_0, Q4_K,
 * Q2_K and IQ4_NL — measured here to the byte; on ARM also Q8_0 (from the source, not measured).
 * This is what replaced the Q4_0_4_4/Q4_0_4_8/Q4_0_8_8 file types.
 */
const REPACKED_TYPES = { x86: new Set([2, 12, 10, 20]), arm: new Set([2, 12, 10, 20, 8]) } as const;

/**
 * Types with AMX kernels (ggml-cpu/amx/common.h: F16, Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_XS).
 * On a CPU with AMX, llama.cpp places these matmul weights in its AMX buffer (first of the extra
 * buffer types, before the AVX2 repack) when their output rows are a multiple of 32: a second
 * copy, like the repack's. Measured on a Xeon with AMX: SmolLM2-135M Q4_1, 75 MiB over the mapped
 * file, the size of its matmul weights.
 */
const AMX_TYPES = new Set([1, 2, 3, 8, 12, 13, 14, 23]);

/** Bytes of the copies llama.cpp makes when it repacks weights for the CPU kernels. */
export function repackBytes(header: GgufHeader, target: CpuRepack): number {
  const repacked = REPACKED_TYPES[target === 'arm' ? 'arm' : 'x86'];
  let sum = 0;
  for (const t of header.tensors) {
    // token_embd is read with get_rows, never repacked.
    if (t.name === 'token_embd.weight' || t.dimensions.length < 2) continue;
    const rows = Number(t.dimensions[1]);
    const amx = target === 'x86-amx' && AMX_TYPES.has(t.ggmlType) && rows % 32 === 0;
    // The AVX2/ARM repack interleaves rows in groups of 8.
    if (amx || (repacked.has(t.ggmlType) && rows % 8 === 0)) sum += tensorBytes(t);
  }
  return sum;
}

/**
 * Which repacking a CPU-only host does: its architecture (Node's `process.arch`) and, on x86-64,
 * whether the CPU has AMX (the `amx_int8` flag of /proc/cpuinfo on Linux).
 */
export function cpuRepackFor(arch: string, cpuFlags: ReadonlySet<string> = hostCpuFlags()) {
  if (arch === 'x64') return cpuFlags.has('amx_int8') ? 'x86-amx' : 'x86';
  if (arch === 'arm64') return 'arm';
  return false;
}

let cpuFlags: ReadonlySet<string> | undefined;

/** The CPU's feature flags (Linux: /proc/cpuinfo; elsewhere none known). */
export function hostCpuFlags(): ReadonlySet<string> {
  if (cpuFlags) return cpuFlags;
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {}
  const line = /^flags\s*:(.*)$/m.exec(text)?.[1] ?? '';
  cpuFlags = new Set(line.trim().split(/\s+/).filter(Boolean));
  return cpuFlags;
}

export interface MemoryEstimate {
  weightsBytes: number;
  /** Extra copies of weights repacked for the CPU kernels (0 on GPU). */
  repackBytes: number;
  kvCacheBytes: number;
  computeBytes: number;
  /** llama.cpp's per-model host overhead: vocab tables, backend buffers, allocator slack. */
  runtimeBytes: number;
  totalBytes: number;
}

/**
 * Per-model host overhead beyond tensors, KV and activations: vocabulary tables, the GGUF context,
 * sampler and graph bookkeeping. Measured warm (a model already loaded and unloaded once in the
 * process) at 10–30 MiB for SmolLM2-135M (49,152-token vocabulary); the split into a fixed part
 * and 160 B per vocabulary entry is an assumption. The first model a process loads also pays a
 * one-time ~30–45 MiB (ggml backend and thread-pool set-up) that is the agent's, not the model's.
 */
export const RUNTIME_FIXED_BYTES = 8 * 2 ** 20;
export const RUNTIME_BYTES_PER_VOCAB = 160;

/** KV cells are allocated for all sequences at once, padded to 256 (node-llama-cpp/llama.cpp). */
export function kvCells(contextSize: number, sequences: number): number {
  return Math.ceil((contextSize * sequences) / 256) * 256;
}

export function estimateMemory(header: GgufHeader, opts: EstimateOptions): MemoryEstimate {
  const weightsBytes = header.tensors.reduce((sum, t) => sum + tensorBytes(t), 0);
  const headDimK = header.keyLength ?? header.embeddingLength / header.headCount;
  const headDimV = header.valueLength ?? header.embeddingLength / header.headCount;
  const cells = kvCells(opts.contextSize, opts.sequences);
  let kvCacheBytes = 0;
  for (let layer = 0; layer < header.blockCount; layer++) {
    const kvHeads = Array.isArray(header.headCountKv)
      ? (header.headCountKv[layer] ?? 0)
      : header.headCountKv;
    // F16 keys and values (llama.cpp's default cache type): 2 bytes per element.
    kvCacheBytes += cells * kvHeads * (headDimK + headDimV) * 2;
  }
  const batch = opts.batchSize ?? Math.min(cells, 512);
  // Resident compute memory: logits for every sequence's last token plus one batch of activations
  // (hidden state ×4 and the feed-forward width; the graph allocator reuses buffers between
  // layers). llama.cpp *reserves* more — its "compute buffer size" log line counts logits for a
  // whole batch (n_batch × n_vocab × 4 B, 98 MiB for SmolLM2) — but generation only touches the
  // last token's logits, so those pages stay unresident; see docs/benchmarks.md.
  const feedForward = header.feedForwardLength ?? header.embeddingLength * 4;
  const computeBytes =
    header.vocabSize * 4 * opts.sequences + batch * (header.embeddingLength * 4 + feedForward) * 4;
  const runtimeBytes = RUNTIME_FIXED_BYTES + header.vocabSize * RUNTIME_BYTES_PER_VOCAB;
  const repack = opts.cpuRepack ? repackBytes(header, opts.cpuRepack) : 0;
  return {
    weightsBytes,
    repackBytes: repack,
    kvCacheBytes,
    computeBytes,
    runtimeBytes,
    totalBytes: weightsBytes + repack + kvCacheBytes + computeBytes + runtimeBytes,
  };
}

/** The quant a header declares (`general.file_type`), if it is one we know. */
export function headerQuant(header: GgufHeader): QuantType | undefined {
  return header.fileType === undefined ? undefined : quantByFileType(header.fileType);
}

export interface ReadHeaderOptions {
  signal?: AbortSignal;
  /** Extra headers for URLs (e.g. Authorization for a private mirror). */
  fetchHeaders?: Record<string, string>;
}

/** Reads only the header: a local path, or an http(s) URL through Range requests. */
export async function readGgufHeader(
  pathOrUrl: string,
  opts: ReadHeaderOptions = {},
): Promise<GgufHeader> {
  const remote = /^https?:\/\//.test(pathOrUrl);
  const { readGgufFileInfo } = await importNodeLlamaCpp();
  const info = await readGgufFileInfo(pathOrUrl, {
    sourceType: remote ? 'network' : 'filesystem',
    // The vocabulary is most of a header; the estimate needs only its length.
    ignoreKeys: ['tokenizer.ggml.merges', 'tokenizer.ggml.token_type', 'tokenizer.ggml.scores'],
    logWarnings: false,
    ...(remote ? { fetchRetryOptions: { retries: 0 } } : {}),
    ...(opts.fetchHeaders ? { fetchHeaders: opts.fetchHeaders } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return toHeader(info.metadata as unknown as Record<string, unknown>, info.tensorInfo ?? []);
}

function toHeader(
  metadata: Record<string, unknown>,
  tensors: readonly { name: string; dimensions: readonly (number | bigint)[]; ggmlType: number }[],
): GgufHeader {
  const general = record(metadata.general);
  const architecture = String(general.architecture ?? '');
  const arch = record(metadata[architecture]);
  const attention = record(arch.attention);
  const num = (v: unknown): number | undefined =>
    typeof v === 'number' || typeof v === 'bigint' ? Number(v) : undefined;
  const required = (v: unknown, key: string): number => {
    const n = num(v);
    if (n === undefined || !Number.isFinite(n) || n <= 0) {
      throw new GgufEstimateError(`GGUF header lacks ${architecture}.${key}`);
    }
    return n;
  };
  const headCount = required(attention.head_count, 'attention.head_count');
  const kvRaw = attention.head_count_kv;
  const tokens = record(record(metadata.tokenizer).ggml).tokens;
  const embd = tensors.find((t) => t.name === 'token_embd.weight');
  const vocabSize =
    num(arch.vocab_size) ??
    (Array.isArray(tokens) ? tokens.length : undefined) ??
    num(embd?.dimensions[1]) ??
    0;
  return {
    architecture,
    name: typeof general.name === 'string' ? general.name : undefined,
    fileType: num(general.file_type),
    blockCount: required(arch.block_count, 'block_count'),
    embeddingLength: required(arch.embedding_length, 'embedding_length'),
    headCount,
    headCountKv: Array.isArray(kvRaw) ? kvRaw.map((v) => num(v) ?? 0) : (num(kvRaw) ?? headCount),
    keyLength: num(attention.key_length),
    valueLength: num(attention.value_length),
    vocabSize,
    feedForwardLength: Array.isArray(arch.feed_forward_length)
      ? Math.max(...arch.feed_forward_length.map((v) => num(v) ?? 0))
      : num(arch.feed_forward_length),
    trainContextLength: num(arch.context_length),
    tensors: tensors.map((t) => ({ name: t.name, dimensions: t.dimensions, ggmlType: t.ggmlType })),
  };
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : {};
}
