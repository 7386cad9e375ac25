// OpenAI `n`: non-streamed choices 0..n-1, streamed chunks tagged by choice index with a finish per
// choice, usage summed over choices (prompt once), seed + i per choice, and the ticket's token sum.
import { describe, expect, it } from 'vitest';
import type { GenerateRequest } from '../../../agent/engines/engine.ts';
import { chatBody, MODEL, makeAgent, parseSSE, post } from './helpers.ts';

/** Each choice says which seed it ran with; choice with seed 11 is one token shorter. */
const bySeed = (req: GenerateRequest) =>
  req.seed === 11 ? ['s', String(req.seed)] : ['s', String(req.seed), '.'];

type Chunk = {
  choices: {
    index: number;
    delta?: { role?: string; content?: string; tool_calls?: unknown[] };
    text?: string;
    logprobs: unknown;
    finish_reason: string | null;
  }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
};

function streamed(body: string): { chunks: Chunk[]; done: unknown } {
  const events = parseSSE(body);
  return { chunks: events.slice(0, -1) as Chunk[], done: events.at(-1) };
}

/** The text and finish reasons of each choice index, reassembled from a stream's chunks. */
function byChoice(chunks: Chunk[]): Map<number, { text: string; finishes: string[] }> {
  const out = new Map<number, { text: string; finishes: string[] }>();
  for (const c of chunks.flatMap((chunk) => chunk.choices)) {
    const entry = out.get(c.index) ?? { text: '', finishes: [] };
    entry.text += c.delta?.content ?? c.text ?? '';
    if (c.finish_reason) entry.finishes.push(c.finish_reason);
    out.set(c.index, entry);
  }
  return out;
}

describe('n choices', () => {
  it('answers a chat with choices 0..n-1, seeds seed+i and usage summed (prompt once)', async () => {
    const agent = await makeAgent({ engine: { tokens: bySeed } });
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ n: 3, seed: 10 }),
      await agent.ticket(),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      choices: { index: number; message: { content: string }; finish_reason: string }[];
      usage: unknown;
    };
    expect(body.choices).toEqual([
      expect.objectContaining({
        index: 0,
        message: expect.objectContaining({ content: 's10.' }),
        finish_reason: 'stop',
      }),
      expect.objectContaining({
        index: 1,
        message: expect.objectContaining({ content: 's11' }),
        finish_reason: 'stop',
      }),
      expect.objectContaining({
        index: 2,
        message: expect.objectContaining({ content: 's12.' }),
        finish_reason: 'stop',
      }),
    ]);
    expect(body.usage).toEqual({ prompt_tokens: 2, completion_tokens: 8, total_tokens: 10 });
    expect(agent.engine.requests.map((r) => [r.seed, r.n])).toEqual([
      [10, undefined],
      [11, undefined],
      [12, undefined],
    ]);
    expect(agent.reports).toHaveLength(1);
    expect(agent.reports[0]?.report).toMatchObject({
      outcome: 'success',
      promptTokens: 2,
      completionTokens: 8,
    });
    expect(agent.jobs.active).toBe(0);
  });

  it('streams chat chunks tagged by choice, a finish per choice, then usage and [DONE]', async () => {
    const agent = await makeAgent({ engine: { tokens: bySeed } });
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ n: 3, seed: 10, stream: true, stream_options: { include_usage: true } }),
      await agent.ticket(),
    );
    const { chunks, done } = streamed(await res.text());
    expect(done).toBe('[DONE]');
    // Each choice opens with its role delta.
    expect(chunks.slice(0, 3).map((c) => c.choices)).toEqual(
      [0, 1, 2].map((index) => [
        { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
      ]),
    );
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.choices).toHaveLength(1);
      expect(chunk.usage).toBeNull();
    }
    const choices = byChoice(chunks);
    expect([...choices.keys()]).toEqual([0, 1, 2]);
    expect(choices.get(0)).toEqual({ text: 's10.', finishes: ['stop'] });
    expect(choices.get(1)).toEqual({ text: 's11', finishes: ['stop'] });
    expect(choices.get(2)).toEqual({ text: 's12.', finishes: ['stop'] });
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 2, completion_tokens: 8, total_tokens: 10 },
    });
  });

  it('streams completions by choice with text_offset counted per choice', async () => {
    const agent = await makeAgent({ engine: { tokens: ['ab', 'c'] } });
    const res = await post(
      agent,
      '/v1/completions',
      { model: MODEL, prompt: 'Once', n: 2, logprobs: 1, stream: true },
      await agent.ticket(),
    );
    const { chunks, done } = streamed(await res.text());
    expect(done).toBe('[DONE]');
    const offsets = chunks
      .flatMap((c) => c.choices)
      .filter((c) => c.text)
      .map((c) => [c.index, (c.logprobs as { text_offset: number[] }).text_offset[0]]);
    expect(offsets).toEqual([
      [0, 0],
      [0, 2],
      [1, 0],
      [1, 2],
    ]);
    const choices = byChoice(chunks);
    expect(choices.get(0)).toEqual({ text: 'abc', finishes: ['stop'] });
    expect(choices.get(1)).toEqual({ text: 'abc', finishes: ['stop'] });
  });

  it('answers completions with n choices, each with its own logprobs', async () => {
    const agent = await makeAgent({ engine: { tokens: ['ab', 'c'] } });
    const res = await post(
      agent,
      '/v1/completions',
      { model: MODEL, prompt: 'Once', n: 2, logprobs: 0, max_tokens: 1 },
      await agent.ticket(),
    );
    expect(await res.json()).toMatchObject({
      choices: [
        { index: 0, text: 'ab', finish_reason: 'length', logprobs: { tokens: ['ab'] } },
        { index: 1, text: 'ab', finish_reason: 'length', logprobs: { tokens: ['ab'] } },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    });
  });

  it('streams tool calls under their choice index', async () => {
    const call = { id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' };
    const agent = await makeAgent({ engine: { tokens: [], toolCalls: [call] } });
    const tools = [{ type: 'function', function: { name: 'get_weather' } }];
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ n: 2, stream: true, tools, tool_choice: 'required' }),
      await agent.ticket(),
    );
    const { chunks } = streamed(await res.text());
    const calls = chunks.flatMap((c) => c.choices).filter((c) => c.delta?.tool_calls);
    expect(calls.map((c) => c.index)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(byChoice(chunks).get(1)?.finishes).toEqual(['tool_calls']);
  });

  it('splits the ticket between the choices and refuses asking beyond it', async () => {
    const agent = await makeAgent({ engine: { tokens: ['a', 'b', 'c', 'd', 'e'] } });
    // No max_tokens: each of 2 choices gets half of the ticket's 6.
    const ok = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ n: 2 }),
      await agent.ticket({ maxTokens: 6 }),
    );
    expect(ok.status).toBe(200);
    expect(agent.engine.requests.map((r) => r.maxTokens)).toEqual([3, 3]);
    const over = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ n: 3, max_tokens: 3 }),
      await agent.ticket({ maxTokens: 6 }),
    );
    expect(over.status).toBe(401); // as any request beyond its ticket
    expect(await over.json()).toMatchObject({
      error: { code: 'ticket_max_tokens_exceeded', param: 'max_tokens' },
    });
  });

  it('leaves a stray n on the Ollama dialect alone: one answer, the ticket not multiplied', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/api/chat',
      { ...chatBody({ n: 3, options: { num_predict: 6 } }), stream: false },
      await agent.ticket({ maxTokens: 6 }),
    );
    expect(res.status).toBe(200);
    expect(agent.engine.requests).toHaveLength(1);
  });

  it('refuses n above the cap with a 400 naming n', async () => {
    const agent = await makeAgent();
    const res = await post(agent, '/v1/chat/completions', chatBody({ n: 9 }), await agent.ticket());
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: 'n' } });
    expect(agent.engine.requests).toHaveLength(0);
  });
});
