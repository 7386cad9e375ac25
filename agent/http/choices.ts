// OpenAI's `n`: a request's answers generated one after another on its one slot, each chunk
// tagged with the index of the choice it belongs to. Engines only ever see one choice at a time.
import type {
  DoneChunk,
  GenerateChunk,
  GenerateOptions,
  GenerateRequest,
  InferenceEngine,
} from '../engines/engine.ts';

/** An engine chunk and the choice (0..n-1) it belongs to. */
export type ChoiceChunk = GenerateChunk & { choice: number };

/**
 * Runs the engine once per choice, in order: choice i with `seed + i` when the request has a
 * seed, so the whole answer is reproducible; every choice ends with its own `done` chunk.
 */
export async function* generateChoices(
  engine: InferenceEngine,
  request: GenerateRequest,
  opts: GenerateOptions,
): AsyncGenerator<ChoiceChunk> {
  const { n = 1, ...one } = request;
  for (let choice = 0; choice < n; choice++) {
    const seeded = one.seed !== undefined ? { ...one, seed: one.seed + choice } : one;
    for await (const chunk of engine.generate(seeded, opts)) yield { ...chunk, choice };
  }
}

/**
 * The usage of the whole request from each choice's `done`: the prompt counted once (as OpenAI
 * counts it), completion tokens summed; the last choice's finish reason and sequence (what the
 * engine holds now).
 */
export function totalOf(dones: readonly DoneChunk[]): DoneChunk {
  const first = dones[0];
  const last = dones.at(-1);
  if (!first || !last) throw new Error('no choice has finished');
  const total: DoneChunk = {
    type: 'done',
    finishReason: last.finishReason,
    promptTokens: first.promptTokens,
    completionTokens: dones.reduce((sum, d) => sum + d.completionTokens, 0),
  };
  if (first.cachedPromptTokens !== undefined) total.cachedPromptTokens = first.cachedPromptTokens;
  if (last.sequence !== undefined) total.sequence = last.sequence;
  return total;
}
