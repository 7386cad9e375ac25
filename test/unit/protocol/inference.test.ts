// The max_tokens a body asks for: what the control plane puts in the ticket and the agent holds it to.
import { describe, expect, it } from 'vitest';
import { requestedMaxTokens } from '../../../protocol/inference.ts';

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
