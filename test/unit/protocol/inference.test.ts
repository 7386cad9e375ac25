// The max_tokens a body asks for (what the control plane puts in the ticket and the agent holds it
// to), and fields no engine serves refused by name rather than ignored.
import { describe, expect, it } from 'vitest';
import {
  MAX_CHOICES,
  openAIChatBody,
  openAICompletionBody,
  requestedChoices,
  requestedMaxTokens,
  routeBody,
} from '../../../protocol/inference.ts';

describe('requestedMaxTokens', () => {
  it.each([
    [{ max_completion_tokens: 7, max_tokens: 9 }, 7],
    [{ max_completion_tokens: null, max_tokens: 9 }, 9],
    [{ options: { num_predict: 12 } }, 12],
    [{ options: { num_predict: -1 } }, undefined],
    [{ options: { num_predict: -2 } }, undefined],
    [{ options: null }, undefined],
    [{ max_tokens: '9' }, undefined],
    [{}, undefined],
  ])('reads %j as %j', (body, asked) => {
    expect(requestedMaxTokens(body)).toBe(asked);
  });
});

describe('n (choices)', () => {
  it.each([
    [{ n: 3 }, 3],
    [{ n: 1 }, 1],
    [{ n: null }, 1],
    [{}, 1],
  ])('reads %j as %j', (body, n) => {
    expect(requestedChoices(body)).toBe(n);
  });

  it.each([[0], [1.5], [MAX_CHOICES + 1]])('refuses n = %j naming n', (n) => {
    const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }], n };
    for (const parsed of [
      openAIChatBody.safeParse(chat),
      openAICompletionBody.safeParse({ model: 'm', prompt: 'hi', n }),
      routeBody.safeParse({ model: 'm', n }),
    ]) {
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0]?.path).toEqual(['n']);
    }
  });

  it(`accepts 1 to ${MAX_CHOICES}`, () => {
    const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }], n: MAX_CHOICES };
    expect(openAIChatBody.safeParse(chat).success).toBe(true);
    expect(openAICompletionBody.safeParse({ model: 'm', prompt: 'hi', n: 2 }).success).toBe(true);
  });
});

describe('fields no engine serves, and their limits', () => {
  const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
  const completion = { model: 'm', prompt: 'hi' };

  it.each([
    [openAIChatBody, chat, { top_logprobs: 3 }, 'top_logprobs'],
    [openAIChatBody, chat, { logprobs: true, top_logprobs: 21 }, 'top_logprobs'],
    [openAIChatBody, chat, { logprobs: 'yes' }, 'logprobs'],
    [openAICompletionBody, completion, { logprobs: 6 }, 'logprobs'],
    [openAICompletionBody, completion, { logprobs: true }, 'logprobs'],
    [openAICompletionBody, completion, { echo: true }, 'echo'],
    [openAICompletionBody, completion, { best_of: 3 }, 'best_of'],
    [openAICompletionBody, completion, { suffix: 'end' }, 'suffix'],
  ] as const)('%#: refuses %j naming %s', (schema, base, extra, field) => {
    const parsed = schema.safeParse({ ...base, ...extra });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual([field]);
  });

  it('accepts logprobs within OpenAI limits', () => {
    const asked = { ...chat, logprobs: true, top_logprobs: 20 };
    expect(openAIChatBody.safeParse(asked).success).toBe(true);
    expect(openAICompletionBody.safeParse({ ...completion, logprobs: 5 }).success).toBe(true);
  });

  it('accepts their off values', () => {
    expect(openAIChatBody.safeParse({ ...chat, logprobs: false, top_logprobs: 0 }).success).toBe(
      true,
    );
    expect(
      openAICompletionBody.safeParse({ ...completion, logprobs: null, echo: false, best_of: 1 })
        .success,
    ).toBe(true);
  });
});
