// The embedded engine on the demo model: grammar-constrained JSON (any, and a schema) and
// embeddings (the model's dimension, deterministic, batch = one by one).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { GenerateRequest } from '../../agent/engines/engine.ts';
import { DEMO_MODEL } from '../../scripts/cluster.ts';
import { useDemoEngine } from './support/demo-engine.ts';
import { generateAll } from './support/generate.ts';

/** SmolLM2-135M's hidden size (GGUF `llama.embedding_length`). */
const DEMO_EMBEDDING_SIZE = 576;

const demoEngine = useDemoEngine(512);

const run = (req: Omit<GenerateRequest, 'model'>) => generateAll(demoEngine(), req);

const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 20 },
    age: { type: 'integer' },
    pets: { type: 'array', items: { enum: ['cat', 'dog'] }, maxItems: 3 },
    nickname: { anyOf: [{ type: 'string', maxLength: 10 }, { type: 'null' }] },
  },
  required: ['name', 'age', 'pets', 'nickname'],
  additionalProperties: false,
};

const ask = (content: string) => [{ role: 'user' as const, content }];

describe('structured outputs on the embedded engine', () => {
  it('a json_schema answer parses and validates against its schema', async () => {
    const validate = z.fromJSONSchema(PERSON as z.core.JSONSchema.JSONSchema);
    for (const seed of [1]) {
      const { text, done } = await run({
        messages: ask('Describe a person as JSON.'),
        format: { type: 'json_schema', schema: PERSON, name: 'person', strict: true },
        temperature: 0.8,
        seed,
        maxTokens: 200,
      });
      expect(done.finishReason).toBe('stop');
      expect(validate.safeParse(JSON.parse(text)).success, text).toBe(true);
    }
  }, 300_000);

  it('json mode gives JSON from a raw completion too', async () => {
    const { text, done } = await run({
      // A prompt that names its fields: with an open one ("describing the weather:") the greedy
      // answer on some CPUs repeats a key until max_tokens (the grammar allows any object).
      prompt: 'A JSON object describing the weather today, with temperature and sky:\n',
      format: { type: 'json' },
      temperature: 0,
      maxTokens: 200,
    });
    expect(done.finishReason).toBe('stop');
    expect(() => JSON.parse(text)).not.toThrow();
  }, 300_000);

  it('an unsupported schema fails before any token, naming the keyword, and frees the sequence', async () => {
    await expect(
      run({
        messages: ask('x'),
        format: { type: 'json_schema', schema: { type: 'string', pattern: '^[a-z]+$' } },
      }),
    ).rejects.toMatchObject({ code: 'invalid_request', message: /'pattern'/ });
    expect(demoEngine().sequencesInUse).toBe(0);
  }, 300_000);
});

describe('embeddings on the embedded engine', () => {
  it("have the model's dimension, are deterministic, and batch as one by one", async () => {
    const signal = new AbortController().signal;
    const texts = ['The cat sat on the mat.', 'Quarterly revenue grew by ten percent.'];
    const batch = await demoEngine().embed({ model: DEMO_MODEL, input: texts }, { signal });
    expect(batch.embeddings).toHaveLength(2);
    for (const v of batch.embeddings) {
      expect(v).toHaveLength(DEMO_EMBEDDING_SIZE);
      expect(v.every(Number.isFinite)).toBe(true);
    }
    expect(batch.promptTokens).toBeGreaterThan(8);
    const again = await demoEngine().embed(
      { model: DEMO_MODEL, input: [texts[0] ?? ''] },
      { signal },
    );
    expect(again.embeddings[0]).toEqual(batch.embeddings[0]);
    expect(batch.embeddings[1]).not.toEqual(batch.embeddings[0]);
  }, 300_000);

  it('refuses other dimensions and inputs longer than the context', async () => {
    const signal = new AbortController().signal;
    await expect(
      demoEngine().embed({ model: DEMO_MODEL, input: ['x'], dimensions: 128 }, { signal }),
    ).rejects.toMatchObject({ code: 'invalid_request', message: /576 dimensions/ });
    await expect(
      demoEngine().embed({ model: DEMO_MODEL, input: ['word '.repeat(2000)] }, { signal }),
    ).rejects.toMatchObject({ code: 'invalid_request', message: /input\[0\] is \d+ tokens/ });
  }, 300_000);
});
