// What the agent's engine holds, as prefix-digest chains (protocol/prefix-digest.ts), reported in
// heartbeats and job reports so the control plane can route a conversation back to its cache.
import { MAX_HELD_PREFIXES, type PrefixEntry } from '../protocol/prefix-digest.ts';

interface Slot {
  /** The engine's own sequence id when it said which one ran the job (exact), else undefined. */
  sequence: number | undefined;
  hashes: string[];
  usedAt: number;
}

/**
 * What an agent reports of the chains its engine holds (most recently used first), capped: first
 * each chain's whole hash (what the next turn of its conversation extends), then their shorter
 * prefixes (a shared system prompt), longest first. With many cached sequences the cap drops the
 * shorter prefixes of old chains before any chain's conversation. The fleet simulation reports
 * with it too.
 */
export function heldHashes(
  chains: readonly (readonly string[])[],
  limit = MAX_HELD_PREFIXES,
): string[] {
  const out = new Set<string>();
  for (const chain of chains) {
    const whole = chain.at(-1);
    if (whole !== undefined && out.size < limit) out.add(whole);
  }
  for (const chain of chains) {
    for (let i = chain.length - 2; i >= 0 && out.size < limit; i--) out.add(chain[i] as string);
  }
  return [...out];
}

/**
 * One chain per engine slot, most recently used first. Exact when the engine names the sequence
 * that ran each job (the embedded engine: a sequence holds what its last job left in it). Else the
 * agent's own record of what it sent, placed as llama-server and Ollama place a prompt: in the
 * slot sharing the longest prefix with it, or the least recently used one.
 */
export class PrefixRecord {
  private readonly slots: Slot[] = [];
  private clock = 0;

  /** `capacity`: the engine's slots (sequences, parallel requests), or its cached sequences. */
  constructor(private readonly capacity: number) {}

  /** The slot (`sequence`, when the engine names it) now holds `chain`. */
  record(chain: readonly PrefixEntry[], sequence?: number): void {
    if (chain.length === 0) return;
    const hashes = chain.map((e) => e.hash);
    const slot = sequence !== undefined ? this.bySequence(sequence) : this.bySimilarity(hashes);
    slot.hashes = hashes;
    slot.usedAt = ++this.clock;
  }

  /** Chain hashes held, capped (heldHashes), most recently used slot first. */
  held(limit = MAX_HELD_PREFIXES): string[] {
    const recent = [...this.slots].sort((a, b) => b.usedAt - a.usedAt);
    return heldHashes(
      recent.map((s) => s.hashes),
      limit,
    );
  }

  private bySequence(sequence: number): Slot {
    const found = this.slots.find((s) => s.sequence === sequence);
    if (found) return found;
    return this.take({ sequence, hashes: [], usedAt: 0 });
  }

  private bySimilarity(hashes: readonly string[]): Slot {
    let best: Slot | undefined;
    let bestShared = 0;
    for (const slot of this.slots) {
      let n = 0;
      while (n < slot.hashes.length && n < hashes.length && slot.hashes[n] === hashes[n]) n++;
      if (n > bestShared) {
        best = slot;
        bestShared = n;
      }
    }
    return best ?? this.take({ sequence: undefined, hashes: [], usedAt: 0 });
  }

  /** A new slot, or the least recently used one when all `capacity` slots are taken. */
  private take(slot: Slot): Slot {
    if (this.slots.length < this.capacity) {
      this.slots.push(slot);
      return slot;
    }
    const lru = this.slots.reduce((a, b) => (b.usedAt < a.usedAt ? b : a));
    lru.sequence = slot.sequence;
    return lru;
  }
}
