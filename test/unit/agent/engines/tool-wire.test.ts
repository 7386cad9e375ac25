// Tool calling on the wire to Ollama and OpenAI-compatible upstreams (local servers speaking
// their documented formats): tools, calls and results go out in each one's shape, calls come
// back as tool_call chunks, and what Ollama cannot do is refused before any request.
import { describe, expect, it } from 'vitest';
import type {
  GenerateChunk,
  GenerateRequest,
  InferenceEngine,
} from '../../../../agent/engines/engine.ts';
import { OllamaEngine } from '../../../../agent/engines/ollama.ts';
import { OpenAIUpstreamEngine } from '../../../../agent/engines/openai-upstream.ts';
import { serveRoutes } from './wire-server.ts';

const serve = serveRoutes;

async function collect(engine: InferenceEngine, req: GenerateRequest): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const c of engine.generate(req, { signal: new AbortController().signal })) out.push(c);
  return out;
}

const PARAMS = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
const ROUND_TRIP: GenerateRequest = {
  model: 'm',
  messages: [
    { role: 'user', content: 'weather?' },
    {
      role: 'assistant',
      content: '',
      toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }],
    },
    { role: 'tool', content: 'sunny', toolCallId: 'call_1', toolName: 'get_weather' },
  ],
  tools: [{ name: 'get_weather', description: 'Weather', parameters: PARAMS }],
};

describe('OpenAI-compatible upstream', () => {
  it('passes tools, tool_choice and tool messages through and relays call deltas', async () => {
    let seen: Record<string, unknown> = {};
    const url = await serve({
      'POST /v1/chat/completions': (body, res) => {
        seen = body;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const call = (d: unknown, finish: string | null = null) =>
          `data: ${JSON.stringify({ choices: [{ index: 0, delta: { tool_calls: [d] }, finish_reason: finish }] })}\n\n`;
        res.write(
          call({
            index: 0,
            id: 'up_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '' },
          }),
        );
        res.write(call({ index: 0, function: { arguments: '{"city":' } }));
        res.write(call({ index: 0, id: 'up_1', function: { arguments: '"Oslo"}' } }));
        res.write(
          `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] })}\n\n`,
        );
        res.end('data: [DONE]\n\n');
      },
    });
    const engine = new OpenAIUpstreamEngine({ baseUrl: url });
    const chunks = await collect(engine, {
      ...ROUND_TRIP,
      toolChoice: { name: 'get_weather' },
      parallelToolCalls: false,
    });
    expect(seen.messages).toEqual([
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
    ]);
    expect(seen.tools).toEqual([
      {
        type: 'function',
        function: { name: 'get_weather', description: 'Weather', parameters: PARAMS },
      },
    ]);
    expect(seen.tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
    expect(seen.parallel_tool_calls).toBe(false);
    // A call after tool results is not a prefill to continue.
    expect(seen.continue_final_message).toBeUndefined();
    expect(chunks).toEqual([
      { type: 'tool_call', index: 0, id: 'up_1', name: 'get_weather', arguments: '' },
      { type: 'tool_call', index: 0, arguments: '{"city":' },
      { type: 'tool_call', index: 0, arguments: '"Oslo"}' },
      { type: 'done', finishReason: 'tool_calls', promptTokens: 0, completionTokens: 0 },
    ]);
  });
});

describe('Ollama', () => {
  it('sends tools and calls with object arguments, and maps message.tool_calls back', async () => {
    let seen: Record<string, unknown> = {};
    const host = await serve({
      'POST /api/chat': (body, res) => {
        seen = body;
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        const line = (message: unknown, done: boolean) =>
          `${JSON.stringify({ model: 'm', created_at: '2026-01-01T00:00:00Z', message, done, ...(done ? { done_reason: 'stop', prompt_eval_count: 5, eval_count: 7 } : {}) })}\n`;
        res.write(
          line(
            {
              role: 'assistant',
              content: '',
              tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Oslo' } } }],
            },
            false,
          ),
        );
        res.end(line({ role: 'assistant', content: '' }, true));
      },
    });
    const chunks = await collect(new OllamaEngine({ host }), ROUND_TRIP);
    expect(seen.tools).toEqual([
      {
        type: 'function',
        function: { name: 'get_weather', description: 'Weather', parameters: PARAMS },
      },
    ]);
    expect(seen.messages).toEqual([
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }],
      },
      { role: 'tool', content: 'sunny', tool_name: 'get_weather' },
    ]);
    expect(chunks[0]).toMatchObject({
      type: 'tool_call',
      index: 0,
      name: 'get_weather',
      arguments: '{"city":"Oslo"}',
      id: expect.stringMatching(/^call_/),
    });
    expect(chunks[1]).toEqual({
      type: 'done',
      finishReason: 'tool_calls',
      promptTokens: 5,
      completionTokens: 7,
    });
  });

  it.each([
    [{ toolChoice: 'required' as const }, /^tool_choice:/],
    [{ toolChoice: { name: 'get_weather' } }, /^tool_choice:/],
    [{ parallelToolCalls: false }, /^parallel_tool_calls:/],
  ])('refuses %j before sending anything', async (extra, message) => {
    let calls = 0;
    const host = await serve({
      'POST /api/chat': (_b, res) => {
        calls++;
        res.writeHead(500).end();
      },
    });
    await expect(
      collect(new OllamaEngine({ host }), { ...ROUND_TRIP, ...extra }),
    ).rejects.toMatchObject({ code: 'invalid_request', message });
    expect(calls).toBe(0);
  });

  it('sends no tools for tool_choice none', async () => {
    let seen: Record<string, unknown> = {};
    const host = await serve({
      'POST /api/chat': (body, res) => {
        seen = body;
        res
          .writeHead(200)
          .end(
            `${JSON.stringify({ model: 'm', message: { role: 'assistant', content: 'ok' }, done: true, done_reason: 'stop' })}\n`,
          );
      },
    });
    const chunks = await collect(new OllamaEngine({ host }), { ...ROUND_TRIP, toolChoice: 'none' });
    expect(seen.tools).toBeUndefined();
    expect(chunks.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
  });
});
