// The GGUF quantization catalog: llama.cpp types with bits per weight, quality rank and memory tier.
//
// The 13 tiered types are the original design's list: Premium (Q8_0, Q6_K_L, Q6_K), High (Q5_K_M,
// Q5_K_S, Q4_K_M, Q4_K_S), Good (IQ4_XS, Q3_K_L, Q3_K_M, IQ3_M), Emergency (Q2_K, IQ2_M). Q5_K_S
// and Q3_K_M complete the 13: they are the two types bartowski-style repos publish between their
// neighbours. Q4_0 is the ARM choice: llama.cpp removed the Q4_0_4_4/Q4_0_4_8/Q4_0_8_8 file types
// in late 2024 (ggml types 31–33 and ftypes 33–35 are now rejected) and instead repacks plain
// Q4_0 at load time into the layout the ARM (and AVX2) kernels want. F16, BF16 and Q4_1 are
// recognised (the bundled demo model is Q4_1) but never preferred over a tiered type.

export const QUANT_NAMES = [
  'F16',
  'BF16',
  'Q8_0',
  'Q6_K_L',
  'Q6_K',
  'Q5_K_M',
  'Q5_K_S',
  'Q4_K_M',
  'Q4_K_S',
  'Q4_1',
  'Q4_0',
  'IQ4_XS',
  'Q3_K_L',
  'Q3_K_M',
  'IQ3_M',
  'Q2_K',
  'IQ2_M',
] as const;
export type QuantName = (typeof QUANT_NAMES)[number];

export type QuantTier = 'reference' | 'premium' | 'high' | 'good' | 'emergency';

export interface QuantType {
  name: QuantName;
  /** llama.cpp `LLAMA_FTYPE_MOSTLY_*` stored in `general.file_type` (the `_L` variants share it). */
  fileType: number;
  /** Average bits per weight of the whole file for an 8B Llama (llama-quantize's figures). */
  bitsPerWeight: number;
  /** 1 = best. Strict order used by selection. */
  qualityRank: number;
  tier: QuantTier;
  note: string;
}

const Q = (
  name: QuantName,
  fileType: number,
  bitsPerWeight: number,
  tier: QuantTier,
  note: string,
): Omit<QuantType, 'qualityRank'> => ({ name, fileType, bitsPerWeight, tier, note });

/** Best first: the array order is the quality rank. */
const ORDERED = [
  Q('F16', 1, 16, 'reference', 'unquantized half precision; reference only'),
  Q('BF16', 32, 16, 'reference', 'unquantized bfloat16; reference only'),
  Q('Q8_0', 7, 8.5, 'premium', 'near-lossless (+0.003 ppl @ Llama-3-8B)'),
  Q('Q6_K_L', 18, 6.6, 'premium', 'Q6_K with embeddings and output in Q8_0 (bartowski naming)'),
  Q('Q6_K', 18, 6.56, 'premium', '+0.022 ppl @ Llama-3-8B'),
  Q('Q5_K_M', 17, 5.69, 'high', '+0.057 ppl'),
  Q('Q5_K_S', 16, 5.54, 'high', '+0.105 ppl'),
  Q('Q4_K_M', 15, 4.89, 'high', '+0.175 ppl; the usual default'),
  Q('Q4_K_S', 14, 4.58, 'high', '+0.269 ppl'),
  Q('Q4_1', 3, 5.0, 'high', 'legacy; the bundled demo model'),
  Q('Q4_0', 2, 4.5, 'high', 'legacy; repacked at load time for ARM/AVX2 kernels'),
  Q('IQ4_XS', 30, 4.25, 'good', 'non-linear 4-bit'),
  Q('Q3_K_L', 13, 4.27, 'good', '+0.556 ppl'),
  Q('Q3_K_M', 12, 3.91, 'good', '+0.657 ppl'),
  Q('IQ3_M', 27, 3.66, 'good', 'i-quant mix'),
  Q('Q2_K', 10, 3.35, 'emergency', '+3.52 ppl: emergency only'),
  Q('IQ2_M', 29, 2.7, 'emergency', 'smallest usable; emergency only'),
];

export const QUANTS: readonly QuantType[] = ORDERED.map((q, i) => ({ ...q, qualityRank: i + 1 }));

const BY_NAME = new Map<string, QuantType>(QUANTS.map((q) => [q.name, q]));

/** Case-insensitive lookup: `q4_k_m` → Q4_K_M. */
export function quantByName(name: string): QuantType | undefined {
  return BY_NAME.get(name.toUpperCase());
}

/** The quant a `general.file_type` means (the plain, non-`_L` type when two share it). */
export function quantByFileType(fileType: number): QuantType | undefined {
  return QUANTS.find((q) => q.fileType === fileType && !q.name.endsWith('_L'));
}

/** The original design's tiers by memory available to the model (sized for ~8B models). */
export const TIER_MIN_BYTES: Record<Exclude<QuantTier, 'reference'>, number> = {
  premium: 8 * 2 ** 30,
  high: 6 * 2 ** 30,
  good: 4 * 2 ** 30,
  emergency: 0,
};

export function tierForMemory(bytes: number): Exclude<QuantTier, 'reference'> {
  if (bytes >= TIER_MIN_BYTES.premium) return 'premium';
  if (bytes >= TIER_MIN_BYTES.high) return 'high';
  if (bytes >= TIER_MIN_BYTES.good) return 'good';
  return 'emergency';
}

export interface Platform {
  arch: string;
  /** True when the model runs on the CPU (no GPU offload). */
  cpuOnly: boolean;
}

/**
 * Preference order (smaller = preferred). On an ARM CPU, Q4_0 moves ahead of the other 4-bit
 * types: llama.cpp repacks it into the i8mm/dotprod layout at load, so it is the fastest 4-bit
 * type there at near-Q4_K_S quality. On an x86-64 CPU it is repacked for the AVX2/AVX-512
 * kernels too, and moves ahead of Q4_1, which is not: measured 1.9x the tokens/s of Q4_1 for the
 * demo model (docs/benchmarks.md, Quantization). Q4_K is repacked there as well, so Q4_K_M keeps
 * its place.
 */
export function preferenceRank(quant: QuantType, platform?: Platform): number {
  const armCpu = platform?.cpuOnly && (platform.arch === 'arm64' || platform.arch === 'arm');
  if (armCpu && quant.name === 'Q4_0') return (quantByName('Q4_K_M')?.qualityRank ?? 8) - 0.5;
  const x86Cpu = platform?.cpuOnly && platform.arch === 'x64';
  if (x86Cpu && quant.name === 'Q4_0') return (quantByName('Q4_1')?.qualityRank ?? 10) - 0.5;
  return quant.qualityRank;
}
