// Context sequences kept between jobs, so a new job can reuse the KV cache of a shared prompt prefix.
import type { LlamaContext, LlamaContextSequence, Token } from 'node-llama-cpp';

/**
 * Hands out the context's sequences one job at a time. Sequences are created lazily and never
 * disposed between jobs: their evaluated tokens stay in the KV cache, and the free sequence whose
 * tokens share the longest prefix with the next prompt is chosen, so node-llama-cpp (which
 * erases only what differs) evaluates just the new suffix. With `keepWarm` (more sequences than
 * slots: the rest is prompt cache, CACHE_SEQUENCES), while sequences are left to create, a prompt
 * that would erase more of a warm sequence than it reuses gets a fresh one instead; without it, a
 * fresh one only when nothing matches (so the default reuses, and batches, as it always did).
 */
export class SequencePool {
  private readonly free: LlamaContextSequence[] = [];
  private busy = 0;
  private readonly ids = new WeakMap<LlamaContextSequence, number>();
  private nextId = 0;

  constructor(
    private readonly context: LlamaContext,
    private readonly keepWarm = false,
  ) {}

  /** Sequences not running a job (created or not yet). */
  get available(): number {
    return this.free.length + this.context.sequencesLeft;
  }

  get inUse(): number {
    return this.busy;
  }

  /** The best free sequence for `prompt`, and how many of its tokens it can reuse. */
  acquire(prompt: readonly Token[]): { sequence: LlamaContextSequence; reusable: number } {
    let best = -1;
    let bestReuse = 0;
    for (let i = 0; i < this.free.length; i++) {
      const reuse = commonPrefix(this.free[i]?.contextTokens ?? [], prompt);
      if (reuse > bestReuse || best < 0) {
        best = i;
        bestReuse = reuse;
      }
    }
    // Room for a fresh sequence, and the best warm one would lose more of what it holds than this
    // prompt reuses: keep it for the prompt it was warmed by (a conversation's next turn).
    const held = best >= 0 ? (this.free[best]?.contextTokens.length ?? 0) : 0;
    const wasteful = this.keepWarm ? held - bestReuse > bestReuse : bestReuse === 0;
    if (this.context.sequencesLeft > 0 && (best < 0 || wasteful)) {
      this.busy++;
      return { sequence: this.context.getSequence(), reusable: 0 };
    }
    const [sequence] = best >= 0 ? this.free.splice(best, 1) : [];
    if (!sequence) throw new Error('no free context sequence');
    this.busy++;
    return { sequence, reusable: bestReuse };
  }

  /** A stable number for a sequence, for the agent's record of what each one holds. */
  idOf(sequence: LlamaContextSequence): number {
    let id = this.ids.get(sequence);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(sequence, id);
    }
    return id;
  }

  /** Returns a sequence after its job; a failed one is cleared so no stale state survives. */
  async release(sequence: LlamaContextSequence, healthy: boolean): Promise<void> {
    this.busy--;
    if (sequence.disposed) return;
    if (!healthy) await sequence.clearHistory().catch(() => undefined);
    this.free.push(sequence);
  }
}

/** Length of the common prefix of two token lists. */
export function commonPrefix<T>(a: readonly T[], b: readonly T[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
