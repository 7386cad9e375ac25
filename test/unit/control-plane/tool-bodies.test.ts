// The control plane checks tool-calling bodies before it takes a slot: well-formed tools, calls
// and tool messages pass (OpenAI and Ollama); malformed ones are a 400 naming the field.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../control-plane/core/errors.ts';
import { inferenceLimits } from '../../../control-plane/core/validation/inference.ts';

const CAP = 256;
const TOOL = {
  type: 'function',
  function: { name: 'get_weather', parameters: { type: 'object', properties: {} } },
};
const openAI = {
  model: 'm',
  tools: [TOOL],
  tool_choice: 'required',
  messages: [
    { role: 'user', content: 'weather?' },
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
  ],
};
const ollama = {
  model: 'm',
  tools: [TOOL],
  messages: [
    { role: 'user', content: 'weather?' },
    {
      role: 'assistant',
      content: '',
      tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Oslo' } } }],
    },
    { role: 'tool', content: 'sunny', tool_name: 'get_weather' },
  ],
};

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('accepted');
}

describe('tool-calling bodies at the control plane', () => {
  it('accepts well-formed tools, calls and tool messages in both dialects', () => {
    expect(inferenceLimits('openai-chat', openAI, CAP)).toEqual({ model: 'm', maxTokens: CAP });
    expect(inferenceLimits('ollama-chat', ollama, CAP)).toEqual({ model: 'm', maxTokens: CAP });
  });

  it.each([
    [
      'openai-chat',
      { ...openAI, tool_choice: { type: 'function', function: { name: 'nope' } } },
      'tool_choice.function.name',
    ],
    [
      'openai-chat',
      { ...openAI, tools: [{ type: 'function', function: { name: 'x y' } }] },
      'tools.0.function.name',
    ],
    [
      'openai-chat',
      { ...openAI, messages: [{ role: 'tool', content: 'x' }] },
      'messages.0.tool_call_id',
    ],
    [
      'ollama-chat',
      { ...ollama, messages: [{ role: 'user', content: 'x', tool_calls: [{}] }] },
      'messages.0.tool_calls.0.function',
    ],
    ['ollama-chat', { ...ollama, tools: [{ type: 'function' }] }, 'tools.0.function'],
  ] as const)('%s %j is a 400 naming %s', (dialect, body, param) => {
    const err = refusal(() => inferenceLimits(dialect, body, CAP));
    expect(err.code).toBe('invalid_request');
    expect(err.param).toBe(param);
  });
});
