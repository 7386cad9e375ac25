// Variant selection: the best-quality quantization whose memory estimate fits, or a pinned one.
import { type Platform, preferenceRank, type QuantType, tierForMemory } from './quant.ts';

export interface Candidate {
  /** Full tag, e.g. `smollm2:135m-instruct-q8_0`. */
  tag: string;
  quant: QuantType;
  /** Estimated memory once loaded (weights + KV + compute + runtime). */
  memoryBytes: number;
}

export interface SelectionOptions {
  /** Memory the model may use: free RAM (CPU) or free VRAM (GPU), plus what it already holds. */
  availableBytes: number;
  /** Fraction of availableBytes kept free (default 0.1). */
  safetyMargin?: number;
  /** Fixed bytes kept free on top of the margin (default 0). */
  reserveBytes?: number;
  platform?: Platform;
  /** A quant the client pinned: only it is eligible. */
  pin?: QuantType['name'];
}

export interface Considered {
  tag: string;
  quant: QuantType['name'];
  memoryBytes: number;
  fits: boolean;
  reason?: string;
}

export interface Selection {
  chosen: Candidate | undefined;
  /** Memory class of availableBytes in the original tiers (Premium 8 GB+ … Emergency < 4 GB). */
  tier: ReturnType<typeof tierForMemory>;
  budgetBytes: number;
  /** Every candidate in preference order, with why it was or was not chosen. */
  considered: Considered[];
}

export const DEFAULT_SAFETY_MARGIN = 0.1;

/** Budget after the safety margin: what an estimate must not exceed. */
export function memoryBudget(
  availableBytes: number,
  opts: { safetyMargin?: number; reserveBytes?: number } = {},
): number {
  const margin = opts.safetyMargin ?? DEFAULT_SAFETY_MARGIN;
  return Math.max(0, Math.floor(availableBytes * (1 - margin)) - (opts.reserveBytes ?? 0));
}

export function selectVariant(candidates: readonly Candidate[], opts: SelectionOptions): Selection {
  const budgetBytes = memoryBudget(opts.availableBytes, opts);
  const ordered = [...candidates].sort(
    (a, b) =>
      preferenceRank(a.quant, opts.platform) - preferenceRank(b.quant, opts.platform) ||
      a.memoryBytes - b.memoryBytes,
  );
  let chosen: Candidate | undefined;
  const considered = ordered.map((c): Considered => {
    const base = { tag: c.tag, quant: c.quant.name, memoryBytes: c.memoryBytes };
    if (opts.pin && c.quant.name !== opts.pin) {
      return { ...base, fits: c.memoryBytes <= budgetBytes, reason: `pinned to ${opts.pin}` };
    }
    if (c.memoryBytes > budgetBytes) {
      return {
        ...base,
        fits: false,
        reason: `needs ${mib(c.memoryBytes)}, budget ${mib(budgetBytes)}`,
      };
    }
    if (chosen) return { ...base, fits: true, reason: `${chosen.quant.name} ranks higher` };
    chosen = c;
    return { ...base, fits: true };
  });
  return { chosen, tier: tierForMemory(opts.availableBytes), budgetBytes, considered };
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}
