// The ticket of a request with `n` choices allows n × max_tokens (the agent holds the choices to
// that sum), and n outside 1..MAX_CHOICES is a 400 naming n before any slot is taken.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../control-plane/core/errors.ts';
import { inferenceLimits } from '../../../control-plane/core/validation/inference.ts';
import { MAX_CHOICES, MAX_COUNT } from '../../../protocol/inference.ts';

const CAP = 256;
const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('tickets for n choices', () => {
  it.each([
    ['openai-chat', { ...chat, n: 3, max_tokens: 10 }, 30],
    ['openai-chat', { ...chat, n: 2 }, 2 * CAP],
    ['openai-chat', { ...chat, n: 1, max_tokens: 10 }, 10],
    ['openai-completion', { model: 'm', prompt: 'hi', n: 4 }, 4 * 16],
    ['openai-completion', { model: 'm', prompt: 'hi', n: 2, max_tokens: 5 }, 10],
    ['route', { model: 'm', n: 3, max_tokens: 7 }, 21],
    // The Ollama dialect has no n: a stray field changes nothing.
    ['ollama-chat', { model: 'm', n: 3, options: { num_predict: 7 } }, 7],
  ] as const)('%s %j: the ticket allows %i tokens', (dialect, body, maxTokens) => {
    expect(inferenceLimits(dialect, body, CAP).maxTokens).toBe(maxTokens);
  });

  it.each([
    [{ ...chat, n: MAX_CHOICES + 1 }],
    [{ ...chat, n: 0 }],
    [{ ...chat, n: 2, max_tokens: MAX_COUNT }],
  ])('refuses %j naming n', (body) => {
    const err = refusal(() => inferenceLimits('openai-chat', body, MAX_COUNT));
    expect(err.code).toBe('invalid_request');
    expect(err.param).toBe('n');
  });

  it('holds each choice to the cap, as max_tokens', () => {
    const err = refusal(() =>
      inferenceLimits('openai-chat', { ...chat, n: 2, max_tokens: 300 }, CAP),
    );
    expect(err.param).toBe('max_tokens');
  });
});
