// The embedded llama.cpp engine on the real model: batching without cross-talk, sampling knobs,
// stop sequences, max_tokens, prefix reuse, and cancellation that frees sequences.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateRequest } from '../../agent/engines/engine.ts';
import { LlamaCppEngine } from '../../agent/engines/llama-cpp.ts';
import { commonPrefix } from '../../agent/engines/sequence-pool.ts';
import { DEMO_MODEL, DEMO_MODEL_PATH } from '../../scripts/cluster.ts';
import { generateAll } from './support/generate.ts';

let engine: LlamaCppEngine;
const SLOTS = 4;

beforeAll(async () => {
  engine = await LlamaCppEngine.create({
    modelPath: DEMO_MODEL_PATH,
    modelName: DEMO_MODEL,
    sequences: SLOTS,
    contextSizePerSequence: 512,
  });
});

afterAll(async () => {
  await engine?.close();
});

const run = (req: Omit<GenerateRequest, 'model'>, signal?: AbortSignal) =>
  generateAll(engine, req, signal);

const chat = (content: string, extra: Partial<GenerateRequest> = {}) =>
  ({ messages: [{ role: 'user', content }], ...extra }) as Omit<GenerateRequest, 'model'>;

const PROMPTS = [
  'What is the capital of France?',
  'List three fruits.',
  'Write one sentence about the sea.',
  'What is 2 + 2?',
];

describe('oversized prompts', () => {
  it('refuses a 6 MiB prompt by its length, before tokenising it', async () => {
    const huge = 'word '.repeat((6 * 1024 * 1024) / 5);
    // The character check names characters; the token check after tokenising names tokens.
    await expect(run(chat(huge))).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('characters'),
    });
    expect((await run(chat('Say hi.', { maxTokens: 2 }))).done).toBeDefined();
  });
});

describe('batched sequences', () => {
  it('parallel greedy requests each produce their own text (no cross-talk)', async () => {
    const greedy = { temperature: 0, maxTokens: 16 };
    // Each prompt alone on an engine of its own with one sequence: every prompt evaluated in full
    // in a batch of one. (On the shared engine a prompt sent again would find its own sequence and
    // evaluate only its last token, in a batch of four: other numerics, and this tiny model's
    // greedy choice flips on near-ties, as a batch of four's does.)
    const single = await LlamaCppEngine.create({
      modelPath: DEMO_MODEL_PATH,
      modelName: DEMO_MODEL,
      sequences: 1,
      contextSizePerSequence: 512,
    });
    const alone: string[] = [];
    try {
      for (const p of PROMPTS) alone.push((await generateAll(single, chat(p, greedy))).text);
    } finally {
      await single.close();
    }
    // Then all four at once on the shared engine, on fresh sequences (its first generation).
    expect(engine.cachedSequences).toBe(SLOTS);
    const together = (await Promise.all(PROMPTS.map((p) => run(chat(p, greedy))))).map(
      (r) => r.text,
    );
    const exact = together.filter((t, i) => t === alone[i]).length;
    console.log(`[engines] ${exact}/${PROMPTS.length} parallel greedy outputs bit-identical`);
    // llama.cpp batches are not always bit-exact (a batch of 4 takes other matmul paths than a
    // batch of 1), so a late greedy divergence can be numerical. A mix-up would make a stream
    // resemble another prompt's answer: each must share its longest prefix with its own.
    for (const [i, text] of together.entries()) {
      const own = commonPrefix([...text], [...(alone[i] ?? '')]);
      expect(own).toBeGreaterThan(0);
      for (const [j, other] of alone.entries()) {
        if (j !== i) expect(own).toBeGreaterThan(commonPrefix([...text], [...other]));
      }
    }
  }, 300_000);

  it('four strongly determined completions at once, round after round, each get their own text', async () => {
    // The check that found node-llama-cpp 3.21.1's cross-talk (agent/README.md): raw completions
    // whose greedy answers are far from any near-tie, four at once on fresh sequences of a fresh
    // context, six rounds. 3.21.1's CPU build mixed them up in 1 batch in 8 or more.
    const raw = [
      '1, 2, 3, 4, 5, 6,',
      'A, B, C, D, E, F,',
      'Monday, Tuesday, Wednesday,',
      'January, February, March,',
    ];
    const greedy = { temperature: 0, maxTokens: 12 };
    const fresh = () =>
      LlamaCppEngine.create({
        modelPath: DEMO_MODEL_PATH,
        modelName: DEMO_MODEL,
        sequences: SLOTS,
        contextSizePerSequence: 512,
      });
    const single = await fresh();
    const alone: string[] = [];
    try {
      for (const prompt of raw) alone.push((await generateAll(single, { prompt, ...greedy })).text);
    } finally {
      await single.close();
    }
    for (let round = 0; round < 6; round++) {
      const shared = await fresh();
      try {
        const together = await Promise.all(
          raw.map(async (prompt) => (await generateAll(shared, { prompt, ...greedy })).text),
        );
        for (const [i, text] of together.entries()) {
          const own = commonPrefix([...text], [...(alone[i] ?? '')]);
          expect(
            own,
            `round ${round}, ${JSON.stringify(raw[i])}: ${JSON.stringify(text)}`,
          ).toBeGreaterThan(
            Math.max(
              ...alone.map((other, j) => (j === i ? 0 : commonPrefix([...text], [...other]))),
            ),
          );
        }
      } finally {
        await shared.close();
      }
    }
  }, 300_000);

  it('the same seed gives the same sampled text; stop sequences and max_tokens hold', async () => {
    const sampled = { temperature: 0.9, topK: 40, topP: 0.95, minP: 0.05, seed: 7, maxTokens: 12 };
    const a = await run(chat('Tell me a story.', sampled));
    const b = await run(chat('Tell me a story.', { ...sampled, repeatPenalty: 1.1 }));
    const c = await run(chat('Tell me a story.', sampled));
    expect(c.text).toBe(a.text);
    expect(b.done.completionTokens).toBeGreaterThan(0);

    const limited = await run({ prompt: 'One, two, three, four,', maxTokens: 5, temperature: 0 });
    expect(limited.done).toMatchObject({ finishReason: 'length', completionTokens: 5 });

    const free = await run({ prompt: 'One, two, three, four,', maxTokens: 12, temperature: 0 });
    const stopAt = free.text.trim().split(/\s+/)[1];
    expect(stopAt).toBeTruthy();
    const stopped = await run({
      prompt: 'One, two, three, four,',
      maxTokens: 12,
      temperature: 0,
      stop: [stopAt ?? ''],
    });
    expect(stopped.done.finishReason).toBe('stop');
    expect(stopped.text).not.toContain(stopAt);
    expect(free.text.startsWith(stopped.text)).toBe(true);
  }, 300_000);

  it('reuses the KV cache of a repeated prompt prefix', async () => {
    const conversation = chat('Explain in one line what a llama is.', {
      temperature: 0,
      maxTokens: 4,
    });
    await run(conversation);
    const again = await run(conversation);
    expect(again.done.cachedPromptTokens).toBeGreaterThan(10);
    expect(again.done.cachedPromptTokens).toBeLessThan(again.done.promptTokens);
  }, 300_000);

  it('aborted generations free their sequences, which then serve new work', async () => {
    const controllers = PROMPTS.map(() => new AbortController());
    const started = PROMPTS.map((p, i) => {
      const ctl = controllers[i] as AbortController;
      return (async () => {
        for await (const c of engine.generate(
          { model: DEMO_MODEL, ...chat(p, { maxTokens: 400 }) } as GenerateRequest,
          { signal: ctl.signal },
        )) {
          if (c.type === 'token') ctl.abort();
        }
      })().catch((err: { code?: string }) => err.code);
    });
    expect(await Promise.all(started)).toEqual(PROMPTS.map(() => 'aborted'));
    expect(engine.sequencesInUse).toBe(0);
    const after = await Promise.all(PROMPTS.map((p) => run(chat(p, { maxTokens: 3 }))));
    expect(after.every((r) => r.done.completionTokens > 0)).toBe(true);
  }, 300_000);
});

describe('continued answers', () => {
  // A resumed stream (client/resume.ts) sends the text so far as an assistant prefill: greedy, the
  // continuation must be exactly the rest of the uninterrupted answer, leading spaces included.
  it('an answer continued after k of its tokens goes on exactly as the uninterrupted one', async () => {
    const question = chat('Write a short story about a lighthouse keeper.', {
      temperature: 0,
      maxTokens: 60,
    });
    const pieces: string[] = [];
    for await (const c of engine.generate({ model: DEMO_MODEL, ...question } as GenerateRequest, {
      signal: new AbortController().signal,
    })) {
      if (c.type === 'token') pieces.push(c.text);
    }
    const whole = pieces.join('');
    for (const k of [5, 17, 33]) {
      const prefix = pieces.slice(0, k).join('');
      const rest = await run({
        messages: [...(question.messages ?? []), { role: 'assistant', content: prefix }],
        temperature: 0,
        maxTokens: 60 - k,
      });
      expect(prefix + rest.text, `continued after ${k} tokens`).toBe(whole);
    }
  }, 300_000);
});

describe('sequences kept as prompt cache beyond the slots', () => {
  it('one slot, three sequences: a prompt comes back to its own cache after two others', async () => {
    const cached = await LlamaCppEngine.create({
      modelPath: DEMO_MODEL_PATH,
      modelName: DEMO_MODEL,
      sequences: 3,
      slots: 1,
      contextSizePerSequence: 512,
    });
    try {
      expect(cached.capacity).toBe(1);
      expect(cached.cachedSequences).toBe(3);
      const ask = (content: string) =>
        generateAll(cached, chat(content, { temperature: 0, maxTokens: 2 }));
      const llama =
        'A llama is a domesticated South American camelid, widely used as a meat and pack ' +
        'animal by Andean cultures since the pre-Columbian era. Explain in one line where it lives.';
      const first = await ask(llama);
      await ask('Name two rivers in Europe and one in Africa, please, with their lengths.');
      await ask('Which is larger, the moon or the earth? Answer briefly and say by how much.');
      const again = await ask(llama);
      // Its whole prompt, less the token evaluated for the first logits: with one sequence, the
      // two prompts between would have left only the shared chat-template prefix.
      expect(again.done.cachedPromptTokens).toBeGreaterThanOrEqual(first.done.promptTokens - 1);
    } finally {
      await cached.close();
    }
  }, 300_000);
});
