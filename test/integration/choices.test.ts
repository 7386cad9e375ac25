// OpenAI `n` on the real embedded engine (demo model) through the agent's routes: three
// well-formed choices, non-streamed and streamed, and the same answer for the same seed.
import { describe, expect, it } from 'vitest';
import { DEMO_MODEL } from '../../scripts/cluster.ts';
import { makeAgentWith, parseSSE, post } from '../unit/agent/helpers.ts';
import { useDemoEngine } from './support/demo-engine.ts';

const demoEngine = useDemoEngine(512);

const body = (extra: Record<string, unknown>) => ({
  model: DEMO_MODEL,
  messages: [{ role: 'user', content: 'Tell me a short story about a cat.' }],
  n: 3,
  max_tokens: 12,
  temperature: 1,
  seed: 42,
  ...extra,
});

interface Choice {
  index: number;
  message: { role: string; content: string };
  finish_reason: string;
}

async function answer(extra: Record<string, unknown> = {}) {
  const agent = await makeAgentWith(demoEngine());
  const res = await post(
    agent,
    '/v1/chat/completions',
    body(extra),
    await agent.ticket({ model: DEMO_MODEL }),
  );
  expect(res.status).toBe(200);
  return (await res.json()) as { choices: Choice[]; usage: Record<string, number> };
}

async function streamed(extra: Record<string, unknown> = {}) {
  const agent = await makeAgentWith(demoEngine());
  const res = await post(
    agent,
    '/v1/chat/completions',
    body({ stream: true, stream_options: { include_usage: true }, ...extra }),
    await agent.ticket({ model: DEMO_MODEL }),
  );
  expect(res.status).toBe(200);
  const events = parseSSE(await res.text());
  expect(events.at(-1)).toBe('[DONE]');
  type Chunk = {
    choices: { index: number; delta: { content?: string }; finish_reason: string | null }[];
    usage?: Record<string, number> | null;
  };
  const chunks = events.slice(0, -1) as Chunk[];
  const texts = ['', '', ''];
  const finishes: string[][] = [[], [], []];
  for (const c of chunks.flatMap((chunk) => chunk.choices)) {
    texts[c.index] += c.delta.content ?? '';
    if (c.finish_reason) finishes[c.index]?.push(c.finish_reason);
  }
  return { texts, finishes, usage: chunks.at(-1)?.usage };
}

describe('n = 3 on the embedded engine', () => {
  it('answers three well-formed choices, the same for the same seed', async () => {
    const first = await answer();
    const { prompt_tokens = 0, completion_tokens = 0, total_tokens } = first.usage;
    expect(first.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    for (const c of first.choices) {
      expect(c.message.role).toBe('assistant');
      expect(c.message.content.length).toBeGreaterThan(0);
      expect(['stop', 'length']).toContain(c.finish_reason);
    }
    // Choice i samples with seed + i: not three copies of one answer.
    expect(new Set(first.choices.map((c) => c.message.content)).size).toBeGreaterThan(1);
    expect(completion_tokens).toBeGreaterThan(0);
    expect(completion_tokens).toBeLessThanOrEqual(3 * 12);
    expect(total_tokens).toBe(prompt_tokens + completion_tokens);
    const again = await answer();
    expect(again.choices.map((c) => c.message.content)).toEqual(
      first.choices.map((c) => c.message.content),
    );
  });

  it('streams three choices, each with its finish, matching the non-streamed answer', async () => {
    const whole = await answer();
    const stream = await streamed();
    expect(stream.texts).toEqual(whole.choices.map((c) => c.message.content));
    expect(stream.finishes).toEqual(whole.choices.map((c) => [c.finish_reason]));
    // Cached prompt tokens may differ between the runs; the counts may not.
    expect(stream.usage).toMatchObject({
      prompt_tokens: whole.usage.prompt_tokens,
      completion_tokens: whole.usage.completion_tokens,
    });
  });
});
