// Log probabilities over HTTP with the fake engine, in OpenAI's shapes: chat `logprobs.content`
// whole and per streamed delta, legacy completions lists with text offsets, Ollama's list; absent
// (null) when not asked for.
import { describe, expect, it } from 'vitest';
import { fakeLogprob } from '../../../agent/engines/fake.ts';
import { chatBody, MODEL, makeAgent, parseNDJSON, parseSSE, post } from './helpers.ts';

const TOKENS = ['Hello', ',', ' world', '!'];
const bytes = (t: string) => [...new TextEncoder().encode(t)];

/** What the chat API says of token i of TOKENS with `top` alternatives. */
function chatEntry(i: number, top: number) {
  const e = fakeLogprob(TOKENS[i] ?? '', i, top);
  return {
    token: e.token,
    logprob: e.logprob,
    bytes: bytes(e.token),
    top_logprobs: e.top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: bytes(t.token) })),
  };
}

describe('OpenAI chat logprobs', () => {
  it('a whole answer carries choices[0].logprobs.content, one entry per token', async () => {
    const agent = await makeAgent();
    const body = chatBody({ logprobs: true, top_logprobs: 2 });
    const res = await post(agent, '/v1/chat/completions', body, await agent.ticket());
    expect(res.status).toBe(200);
    expect(agent.engine.requests[0]?.logprobs).toBe(2);
    const json = (await res.json()) as { choices: { logprobs: unknown }[] };
    expect(json.choices[0]?.logprobs).toEqual({
      content: TOKENS.map((_, i) => chatEntry(i, 2)),
      refusal: null,
    });
  });

  it('logprobs: true without top_logprobs asks for the chosen tokens only', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ logprobs: true }),
      await agent.ticket(),
    );
    expect(agent.engine.requests[0]?.logprobs).toBe(0);
    const json = (await res.json()) as { choices: { logprobs: { content: unknown[] } }[] };
    expect(json.choices[0]?.logprobs.content[0]).toEqual(chatEntry(0, 0));
  });

  it('each streamed delta carries the logprobs of its own tokens', async () => {
    const agent = await makeAgent();
    const body = chatBody({ logprobs: true, top_logprobs: 1, stream: true });
    const res = await post(agent, '/v1/chat/completions', body, await agent.ticket());
    const events = parseSSE(await res.text()).filter((e) => e !== '[DONE]') as {
      choices: { delta: { content?: string }; logprobs: { content: unknown[] } | null }[];
    }[];
    const withText = events.filter((e) => e.choices[0]?.delta.content);
    expect(withText.map((e) => e.choices[0]?.logprobs)).toEqual(
      TOKENS.map((_, i) => ({ content: [chatEntry(i, 1)], refusal: null })),
    );
    // The role delta and the final chunk carry none.
    expect(events[0]?.choices[0]?.logprobs).toBeNull();
    expect(events.at(-1)?.choices[0]?.logprobs).toBeNull();
  });

  it('not asked: logprobs is null and the engine is not asked', async () => {
    const agent = await makeAgent();
    const res = await post(agent, '/v1/chat/completions', chatBody(), await agent.ticket());
    const json = (await res.json()) as { choices: { logprobs: unknown }[] };
    expect(json.choices[0]?.logprobs).toBeNull();
    expect(agent.engine.requests[0]?.logprobs).toBeUndefined();
  });
});

describe('OpenAI completions logprobs', () => {
  const completion = { model: MODEL, prompt: 'say', max_tokens: 10 };

  it('a whole answer carries tokens, token_logprobs, top_logprobs and text_offset', async () => {
    const agent = await makeAgent();
    const body = { ...completion, logprobs: 2 };
    const res = await post(agent, '/v1/completions', body, await agent.ticket());
    const json = (await res.json()) as { choices: { logprobs: unknown }[] };
    const entries = TOKENS.map((t, i) => fakeLogprob(t, i, 2));
    expect(json.choices[0]?.logprobs).toEqual({
      tokens: TOKENS,
      token_logprobs: entries.map((e) => e.logprob),
      top_logprobs: entries.map((e) => Object.fromEntries(e.top.map((t) => [t.token, t.logprob]))),
      text_offset: [0, 5, 6, 12],
    });
  });

  it('streamed chunks keep counting text_offset across the answer', async () => {
    const agent = await makeAgent();
    const body = { ...completion, logprobs: 0, stream: true };
    const res = await post(agent, '/v1/completions', body, await agent.ticket());
    const events = parseSSE(await res.text()).filter((e) => e !== '[DONE]') as {
      choices: { text: string; logprobs: { text_offset: number[]; tokens: string[] } | null }[];
    }[];
    const scored = events.map((e) => e.choices[0]?.logprobs).filter((l) => l !== null);
    expect(scored.map((l) => l?.tokens)).toEqual(TOKENS.map((t) => [t]));
    expect(scored.map((l) => l?.text_offset)).toEqual([[0], [5], [6], [12]]);
  });
});

describe('Ollama logprobs', () => {
  it('each streamed line carries its tokens; the final line none', async () => {
    const agent = await makeAgent();
    const body = {
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      logprobs: true,
      top_logprobs: 1,
    };
    const res = await post(agent, '/api/chat', body, await agent.ticket());
    const lines = parseNDJSON(await res.text());
    expect(lines.filter((l) => !l.done).map((l) => l.logprobs)).toEqual(
      TOKENS.map((_, i) => [chatEntry(i, 1)]),
    );
    expect(lines.at(-1)?.logprobs).toBeUndefined();
  });

  it('a whole answer carries every token', async () => {
    const agent = await makeAgent();
    const body = { model: MODEL, prompt: 'hi', stream: false, logprobs: true };
    const res = await post(agent, '/api/generate', body, await agent.ticket());
    const json = (await res.json()) as { logprobs: unknown[] };
    expect(json.logprobs).toEqual(TOKENS.map((_, i) => chatEntry(i, 0)));
  });
});
