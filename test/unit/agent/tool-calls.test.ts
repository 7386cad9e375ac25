// Tool calling over HTTP with the fake engine: tools/tool_choice/tool messages reach the engine,
// calls come back as OpenAI tool_calls (whole, or streamed as OpenAI streams deltas) and as
// Ollama message.tool_calls; malformed tool fields are 400s naming the field.
import { describe, expect, it } from 'vitest';
import type { ToolCall } from '../../../agent/engines/engine.ts';
import { chatBody, MODEL, makeAgent, parseNDJSON, parseSSE, post } from './helpers.ts';

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const CALLS: ToolCall[] = [
  { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
  { id: 'call_b', name: 'get_weather', arguments: '{"city":"Oslo"}' },
];
const callingAgent = () => makeAgent({ engine: { tokens: [], toolCalls: CALLS } });

describe('OpenAI tool calling', () => {
  it('tools, tool_choice and parallel_tool_calls reach the engine', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({
        tools: [WEATHER],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        parallel_tool_calls: false,
      }),
      await agent.ticket(),
    );
    expect(res.status).toBe(200);
    const req = agent.engine.requests[0];
    expect(req?.tools).toEqual([
      {
        name: 'get_weather',
        description: 'Weather in a city',
        parameters: WEATHER.function.parameters,
      },
    ]);
    expect(req?.toolChoice).toEqual({ name: 'get_weather' });
    expect(req?.parallelToolCalls).toBe(false);
  });

  it('assistant tool_calls and tool messages reach the engine', async () => {
    const agent = await makeAgent();
    const messages = [
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_a', content: 'sunny' },
    ];
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ messages, tools: [WEATHER] }),
      await agent.ticket(),
    );
    expect(res.status).toBe(200);
    expect(agent.engine.requests[0]?.messages).toEqual([
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: 'call_a', name: 'get_weather', arguments: '{}' }],
      },
      { role: 'tool', content: 'sunny', toolCallId: 'call_a', toolName: 'get_weather' },
    ]);
  });

  it('a non-streamed answer carries message.tool_calls and finish_reason tool_calls', async () => {
    const agent = await callingAgent();
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ tools: [WEATHER] }),
      await agent.ticket(),
    );
    const body = (await res.json()) as { choices: { message: unknown; finish_reason: string }[] };
    expect(body.choices[0]?.finish_reason).toBe('tool_calls');
    expect(body.choices[0]?.message).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: CALLS.map((c) => ({
        id: c.id,
        type: 'function',
        function: { name: c.name, arguments: c.arguments },
      })),
    });
  });

  it('streams each call as OpenAI does: id, type and name first, then argument fragments', async () => {
    const agent = await callingAgent();
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ tools: [WEATHER], stream: true }),
      await agent.ticket(),
    );
    const events = parseSSE(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    type Chunk = { choices: { delta: { tool_calls?: unknown[] }; finish_reason: string | null }[] };
    const chunks = events.slice(0, -1) as Chunk[];
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toEqual({
      index: 0,
      id: 'call_a',
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    });
    expect(deltas[1]).toEqual({ index: 0, function: { arguments: '{"city":' } });
    // Reassembled by index, as client libraries do.
    const calls: { id?: string; name?: string; arguments: string }[] = [];
    for (const d of deltas as {
      index: number;
      id?: string;
      function: { name?: string; arguments: string };
    }[]) {
      const call = calls[d.index] ?? { arguments: '' };
      calls[d.index] = call;
      if (d.id) call.id = d.id;
      if (d.function.name) call.name = d.function.name;
      call.arguments += d.function.arguments;
    }
    expect(calls).toEqual(CALLS);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it.each([
    [{ tools: [{ type: 'function', function: { name: 'bad name' } }] }, 'tools.0.function.name'],
    [{ tools: [{ type: 'retrieval' }] }, 'tools.0.type'],
    [{ tools: [WEATHER, WEATHER] }, 'tools'],
    [
      { tools: [{ ...WEATHER, function: { name: 'f', parameters: 'x' } }] },
      'tools.0.function.parameters',
    ],
    [{ tool_choice: 'required' }, 'tool_choice'],
    [{ tools: [WEATHER], tool_choice: 'always' }, 'tool_choice'],
    [
      { tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'other' } } },
      'tool_choice.function.name',
    ],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages.0.tool_call_id'],
    [
      {
        messages: [
          {
            role: 'user',
            content: 'x',
            tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
        ],
      },
      'messages.0.tool_calls',
    ],
    [
      {
        messages: [
          {
            role: 'assistant',
            tool_calls: [{ id: 'a', type: 'function', function: { name: 'f' } }],
          },
        ],
      },
      'messages.0.tool_calls.0.function.arguments',
    ],
    [{ messages: [{ role: 'assistant' }] }, 'messages.0.content'],
  ])('%j is a 400 naming %s, and the engine never runs', async (extra, param) => {
    const agent = await makeAgent();
    const res = await post(agent, '/v1/chat/completions', chatBody(extra), await agent.ticket());
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; type: string } };
    expect(body.error).toMatchObject({ param, type: 'invalid_request_error' });
    expect(agent.engine.requests).toHaveLength(0);
  });
});

describe('Ollama tool calling', () => {
  it('tools and tool messages reach the engine; a tool message answers the call it names', async () => {
    const agent = await makeAgent();
    const messages = [
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }],
      },
      { role: 'tool', content: 'sunny', tool_name: 'get_weather' },
    ];
    const res = await post(
      agent,
      '/api/chat',
      { model: MODEL, messages, tools: [WEATHER], stream: false },
      await agent.ticket(),
    );
    expect(res.status).toBe(200);
    const req = agent.engine.requests[0];
    expect(req?.tools?.[0]?.name).toBe('get_weather');
    const call = req?.messages?.[1]?.toolCalls?.[0];
    expect(call).toMatchObject({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    expect(req?.messages?.[2]).toEqual({
      role: 'tool',
      content: 'sunny',
      toolCallId: call?.id,
      toolName: 'get_weather',
    });
  });

  it('a non-streamed answer carries message.tool_calls with arguments as objects', async () => {
    const agent = await callingAgent();
    const res = await post(
      agent,
      '/api/chat',
      { ...chatBody(), tools: [WEATHER], stream: false },
      await agent.ticket(),
    );
    const body = (await res.json()) as { message: unknown; done_reason: string };
    expect(body.done_reason).toBe('stop');
    expect(body.message).toEqual({
      role: 'assistant',
      content: '',
      tool_calls: [
        { id: 'call_a', function: { index: 0, name: 'get_weather', arguments: { city: 'Paris' } } },
        { id: 'call_b', function: { index: 1, name: 'get_weather', arguments: { city: 'Oslo' } } },
      ],
    });
  });

  it('streams the calls whole, in one line before the final one', async () => {
    const agent = await callingAgent();
    const res = await post(
      agent,
      '/api/chat',
      { ...chatBody(), tools: [WEATHER] },
      await agent.ticket(),
    );
    const lines = parseNDJSON(await res.text());
    const withCalls = lines.filter((l) => (l.message as { tool_calls?: unknown }).tool_calls);
    expect(withCalls).toHaveLength(1);
    expect(lines.indexOf(withCalls[0] as never)).toBe(lines.length - 2);
    const message = withCalls[0]?.message as {
      tool_calls: { function: { arguments: unknown } }[];
    };
    const calls = message.tool_calls;
    expect(calls.map((c) => c.function.arguments)).toEqual([{ city: 'Paris' }, { city: 'Oslo' }]);
    expect(lines.at(-1)).toMatchObject({ done: true, done_reason: 'stop' });
  });

  it.each([
    [
      { function: { name: 'f', arguments: '{"a":1}' } },
      'messages.1.tool_calls.0.function.arguments',
    ],
    [{ function: { arguments: {} } }, 'messages.1.tool_calls.0.function.name'],
    [{}, 'messages.1.tool_calls.0.function'],
  ])('a malformed call %j is a 400 naming %s', async (call, param) => {
    const agent = await makeAgent();
    const messages = [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: '', tool_calls: [call] },
    ];
    const res = await post(agent, '/api/chat', { model: MODEL, messages }, await agent.ticket());
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string };
    expect(body.error.startsWith(`${param}:`), body.error).toBe(true);
    expect(agent.engine.requests).toHaveLength(0);
  });
});
