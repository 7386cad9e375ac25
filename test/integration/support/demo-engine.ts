// The embedded engine on the demo model for one test file: started before its tests, closed after.
import { afterAll, beforeAll } from 'vitest';
import { LlamaCppEngine } from '../../../agent/engines/llama-cpp.ts';
import { DEMO_MODEL, DEMO_MODEL_PATH } from '../../../scripts/cluster.ts';

/** Two sequences of `contextSizePerSequence` tokens; call the returned function inside tests. */
export function useDemoEngine(contextSizePerSequence: number): () => LlamaCppEngine {
  let engine: LlamaCppEngine | undefined;
  beforeAll(async () => {
    engine = await LlamaCppEngine.create({
      modelPath: DEMO_MODEL_PATH,
      modelName: DEMO_MODEL,
      sequences: 2,
      contextSizePerSequence,
    });
  });
  afterAll(async () => {
    await engine?.close();
  });
  return () => {
    if (!engine) throw new Error('the demo engine is not started (useDemoEngine in a test file)');
    return engine;
  };
}
