// Drives an engine's generate() to the end: the text of its token chunks and its done chunk.
import type { DoneChunk, GenerateRequest, InferenceEngine } from '../../../agent/engines/engine.ts';
import { DEMO_MODEL } from '../../../scripts/cluster.ts';

export async function generateAll(
  engine: InferenceEngine,
  req: Omit<GenerateRequest, 'model'>,
  signal = new AbortController().signal,
): Promise<{ text: string; done: DoneChunk }> {
  let text = '';
  let done: DoneChunk | undefined;
  for await (const c of engine.generate({ model: DEMO_MODEL, ...req } as GenerateRequest, {
    signal,
  })) {
    if (c.type === 'token') text += c.text;
    else done = c;
  }
  if (!done) throw new Error('no done chunk');
  return { text, done };
}
