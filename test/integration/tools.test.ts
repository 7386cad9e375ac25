// Tool calling on the embedded engine with the demo model (SmolLM2, whose template has no tool
// format: node-llama-cpp's generic one): forced calls parse and match the parameters schema, a
// round trip ends in text, and what the engine cannot do is refused before any token.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ChatMessage, GenerateRequest, ToolDefinition } from '../../agent/engines/engine.ts';
import { useDemoEngine } from './support/demo-engine.ts';
import { generateAll } from './support/generate.ts';

const demoEngine = useDemoEngine(1024);

const run = (req: Omit<GenerateRequest, 'model'>) => generateAll(demoEngine(), req);

const WEATHER: ToolDefinition = {
  name: 'get_weather',
  description: 'The current weather in a city',
  parameters: {
    type: 'object',
    properties: {
      city: { type: 'string', maxLength: 40 },
      unit: { enum: ['celsius', 'fahrenheit'] },
    },
    required: ['city', 'unit'],
    additionalProperties: false,
  },
};
const TIME: ToolDefinition = {
  name: 'get_time',
  description: 'The current time in a time zone',
  parameters: {
    type: 'object',
    properties: { zone: { type: 'string', maxLength: 40 } },
    required: ['zone'],
  },
};
const ask: ChatMessage[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
const validArguments = (tool: ToolDefinition, args: string) =>
  z.fromJSONSchema(tool.parameters as z.core.JSONSchema.JSONSchema).safeParse(JSON.parse(args));

describe('tool calling on the embedded engine', () => {
  it('a named tool_choice forces a call of that function with arguments matching its schema', async () => {
    const { text, toolCalls, done } = await run({
      messages: ask,
      tools: [WEATHER, TIME],
      toolChoice: { name: 'get_weather' },
      temperature: 0.8,
      seed: 3,
      maxTokens: 120,
    });
    expect(done.finishReason).toBe('tool_calls');
    expect(text).toBe('');
    expect(toolCalls).toHaveLength(1);
    const [call] = toolCalls;
    expect(call?.id).toMatch(/^call_/);
    expect(call?.name).toBe('get_weather');
    expect(validArguments(WEATHER, call?.arguments ?? '').success, call?.arguments).toBe(true);
  }, 300_000);

  it('required forces a call of one of the tools, valid for that tool', async () => {
    const { toolCalls, done } = await run({
      messages: [{ role: 'user', content: 'What time is it in Tokyo?' }],
      tools: [WEATHER, TIME],
      toolChoice: 'required',
      temperature: 0,
      maxTokens: 120,
    });
    expect(done.finishReason).toBe('tool_calls');
    const [call] = toolCalls;
    const tool = [WEATHER, TIME].find((t) => t.name === call?.name);
    expect(tool, call?.name).toBeDefined();
    if (tool) expect(validArguments(tool, call?.arguments ?? '').success).toBe(true);
  }, 300_000);

  it('a round trip: the tool message is answered and the model finishes with text', async () => {
    const first = await run({
      messages: ask,
      tools: [WEATHER],
      toolChoice: 'required',
      temperature: 0,
      maxTokens: 120,
    });
    const [call] = first.toolCalls;
    if (!call) throw new Error('no call');
    const { text, toolCalls, done } = await run({
      messages: [
        ...ask,
        { role: 'assistant', content: '', toolCalls: [call] },
        { role: 'tool', toolCallId: call.id, content: '{"temperature": 21, "sky": "sunny"}' },
      ],
      tools: [WEATHER],
      toolChoice: 'none',
      temperature: 0,
      maxTokens: 60,
    });
    expect(toolCalls).toEqual([]);
    expect(['stop', 'length']).toContain(done.finishReason);
    expect(text.trim().length).toBeGreaterThan(0);
    // The call and its result are in the prompt.
    const plain = await run({ messages: ask, temperature: 0, maxTokens: 1 });
    expect(done.promptTokens).toBeGreaterThan(plain.done.promptTokens + 10);
  }, 300_000);

  it('auto lets the model answer or call; either way the answer is well formed', async () => {
    const { text, toolCalls, done } = await run({
      messages: ask,
      tools: [WEATHER],
      temperature: 0,
      maxTokens: 80,
    });
    if (done.finishReason === 'tool_calls') {
      expect(toolCalls[0]?.name).toBe('get_weather');
      expect(validArguments(WEATHER, toolCalls[0]?.arguments ?? '').success).toBe(true);
    } else {
      expect(toolCalls).toEqual([]);
      expect(text.length).toBeGreaterThan(0);
    }
  }, 300_000);

  it('refuses, before any token, parameters it cannot enforce and tools with response_format', async () => {
    const bad = {
      ...WEATHER,
      parameters: { type: 'object', properties: { n: { type: 'integer', minimum: 1 } } },
    };
    await expect(
      run({ messages: ask, tools: [bad], toolChoice: 'required' }),
    ).rejects.toMatchObject({
      code: 'invalid_request',
      message: /tools\[0\]\.function\.parameters.*'minimum'/,
    });
    await expect(
      run({ messages: ask, tools: [WEATHER], format: { type: 'json' } }),
    ).rejects.toMatchObject({ code: 'invalid_request', message: /response_format/ });
    await expect(
      run({
        messages: [...ask, { role: 'tool', toolCallId: 'call_x', content: '1' }],
        tools: [WEATHER],
      }),
    ).rejects.toMatchObject({ code: 'invalid_request', message: /messages\[1\]/ });
    expect(demoEngine().sequencesInUse).toBe(0);
  }, 300_000);
});
