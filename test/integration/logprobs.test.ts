// The embedded engine's log probabilities on the real model: well-formed entries, the same answer
// as without them (greedy, stop strings, seeds), JSON mode, and the 400 with tools.
import { describe, expect, it } from 'vitest';
import type { GenerateRequest, LogprobEntry } from '../../agent/engines/engine.ts';
import { DEMO_MODEL } from '../../scripts/cluster.ts';
import { useDemoEngine } from './support/demo-engine.ts';
import { generateAll } from './support/generate.ts';

const demoEngine = useDemoEngine(512);

/** Text and logprob entries of one answer. */
async function withLogprobs(req: Omit<GenerateRequest, 'model'>) {
  let text = '';
  const entries: LogprobEntry[] = [];
  let finish = '';
  let completionTokens = 0;
  for await (const c of demoEngine().generate({ model: DEMO_MODEL, ...req } as GenerateRequest, {
    signal: new AbortController().signal,
  })) {
    if (c.type === 'token') {
      text += c.text;
      entries.push(...(c.logprobs ?? []));
    } else if (c.type === 'done') {
      finish = c.finishReason;
      completionTokens = c.completionTokens;
    }
  }
  return { text, entries, finish, completionTokens };
}

const chat = (content: string) => [{ role: 'user' as const, content }];

describe('embedded logprobs', () => {
  it('greedy: the same answer as without logprobs, one entry per token, top ranked', async () => {
    const req = { messages: chat('Name three colours.'), temperature: 0, maxTokens: 24 };
    const plain = await generateAll(demoEngine(), req);
    const scored = await withLogprobs({ ...req, logprobs: 3 });
    expect(scored.text).toBe(plain.text);
    expect(scored.finish).toBe(plain.done.finishReason);
    expect(scored.entries).toHaveLength(scored.completionTokens);
    expect(scored.entries.map((e) => e.token).join('')).toBe(scored.text);
    for (const e of scored.entries) {
      expect(e.logprob).toBeLessThanOrEqual(0);
      expect(e.bytes).toEqual([...new TextEncoder().encode(e.token)]);
      expect(e.top).toHaveLength(3);
      // Greedy picks the most likely token; alternatives come most likely first.
      expect(e.top[0]?.token).toBe(e.token);
      expect(e.top[0]?.logprob).toBeCloseTo(e.logprob, 6);
      const ranked = e.top.map((t) => t.logprob);
      expect([...ranked].sort((a, b) => b - a)).toEqual(ranked);
    }
  });

  it('a completion stops before its stop string, as without logprobs', async () => {
    const req = { prompt: 'One, two, three, four,', temperature: 0, maxTokens: 30, stop: [' six'] };
    const plain = await generateAll(demoEngine(), req);
    const scored = await withLogprobs({ ...req, logprobs: 0 });
    expect(scored.text).toBe(plain.text);
    expect(scored.text).not.toContain(' six');
    expect(scored.finish).toBe('stop');
    expect(scored.entries.every((e) => e.top.length === 0)).toBe(true);
  });

  it('the same seed gives the same sampled answer and the same logprobs', async () => {
    const req = { messages: chat('Tell me a story.'), temperature: 1, seed: 42, maxTokens: 20 };
    const a = await withLogprobs({ ...req, logprobs: 2 });
    const b = await withLogprobs({ ...req, logprobs: 2 });
    expect(a.text).toBe(b.text);
    expect(a.entries).toEqual(b.entries);
  });

  it('JSON mode with logprobs answers JSON', async () => {
    const scored = await withLogprobs({
      messages: chat('Give a JSON object with a name.'),
      format: {
        type: 'json_schema',
        schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
      },
      temperature: 0,
      maxTokens: 60,
      logprobs: 1,
    });
    expect(scored.finish).toBe('stop');
    expect(JSON.parse(scored.text)).toHaveProperty('name');
  });

  it('refuses logprobs with tools, naming the field', async () => {
    const req = {
      messages: chat('Weather in Paris?'),
      tools: [{ name: 'weather', parameters: { type: 'object', properties: {} } }],
      logprobs: 0,
    };
    await expect(withLogprobs(req)).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('logprobs'),
    });
  });
});
