// OpenAI-compatible upstream engine against a local SSE server: mapping, usage, errors, abort.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { GenerateChunk } from '../../../../agent/engines/engine.ts';
import { OpenAIUpstreamEngine } from '../../../../agent/engines/openai-upstream.ts';

type Handler = (body: Record<string, unknown>, res: ServerResponse) => void;
const closers: (() => Promise<void>)[] = [];

async function upstream(routes: Record<string, Handler>): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      hits.push(`${req.method} ${req.url}`);
      const handler = routes[`${req.method} ${req.url}`];
      if (!handler) return void res.writeHead(404).end('not found');
      handler(raw ? JSON.parse(raw) : {}, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const sse = (res: ServerResponse, events: unknown[], end = true) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const e of events) res.write(`data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`);
  if (end) res.end();
};
const delta = (content: string, finish: string | null = null) => ({
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});

async function collect(it: AsyncIterable<GenerateChunk>): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

const signal = () => new AbortController().signal;

describe('OpenAIUpstreamEngine', () => {
  it('forwards sampling, streams tokens and takes token counts from usage', async () => {
    let seen: Record<string, unknown> = {};
    const up = await upstream({
      'POST /v1/chat/completions': (body, res) => {
        seen = body;
        sse(res, [
          delta('Hel'),
          delta('lo'),
          delta('', 'length'),
          { choices: [], usage: { prompt_tokens: 9, completion_tokens: 2 } },
          '[DONE]',
        ]);
      },
    });
    const engine = new OpenAIUpstreamEngine({ baseUrl: up.url, apiKey: 'k' });
    const chunks = await collect(
      engine.generate(
        {
          model: 'm',
          messages: [{ role: 'user', content: 'hi' }],
          maxTokens: 2,
          temperature: 0,
          topK: 5,
          minP: 0.1,
          repeatPenalty: 1.1,
          seed: 3,
          stop: ['\n'],
        },
        { signal: signal() },
      ),
    );
    expect(seen).toMatchObject({
      model: 'm',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 2,
      temperature: 0,
      top_k: 5,
      min_p: 0.1,
      repetition_penalty: 1.1,
      seed: 3,
      stop: ['\n'],
    });
    expect(chunks).toEqual([
      { type: 'token', text: 'Hel' },
      { type: 'token', text: 'lo' },
      { type: 'done', finishReason: 'length', promptTokens: 9, completionTokens: 2 },
    ]);
  });

  it.each([
    ['echoes the prefill, merged with new text (llama-server)', ['1, 2, 3,', ' 4', ',']],
    ['echoes the prefill in pieces', ['1, ', '2, 3', ', 4', ',']],
    ['sends only the continuation (vLLM continue_final_message, Ollama)', [',', ' 4', ',']],
  ])('continues an assistant prefill without repeating it: upstream %s', async (_n, pieces) => {
    let seen: Record<string, unknown> = {};
    const up = await upstream({
      'POST /v1/chat/completions': (body, res) => {
        seen = body;
        sse(res, [...pieces.map((p) => delta(p)), delta('', 'stop'), '[DONE]']);
      },
    });
    const engine = new OpenAIUpstreamEngine({ baseUrl: up.url });
    const messages = [
      { role: 'user' as const, content: 'Count.' },
      { role: 'assistant' as const, content: '1, 2, 3' },
    ];
    const chunks = await collect(engine.generate({ model: 'm', messages }, { signal: signal() }));
    const text = chunks.map((c) => (c.type === 'token' ? c.text : '')).join('');
    expect(text).toBe(', 4,');
    expect(seen).toMatchObject({ continue_final_message: true, add_generation_prompt: false });
  });

  it('uses /v1/completions for a raw prompt and accepts a base URL that ends in /v1', async () => {
    const up = await upstream({
      'POST /v1/completions': (_b, res) =>
        sse(res, [{ choices: [{ text: 'abc', finish_reason: 'stop' }] }, '[DONE]']),
    });
    const engine = new OpenAIUpstreamEngine({ baseUrl: `${up.url}/v1/` });
    const chunks = await collect(
      engine.generate({ model: 'm', prompt: 'x' }, { signal: signal() }),
    );
    expect(chunks.at(-1)).toMatchObject({
      type: 'done',
      finishReason: 'stop',
      completionTokens: 1,
    });
  });

  it('maps refusals: 503/429 are back-pressure, 404 unknown model, 400 bad request', async () => {
    const up = await upstream({
      'POST /v1/chat/completions': (body, res) => {
        const status = Number(body.model);
        res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"no"}');
      },
    });
    const engine = new OpenAIUpstreamEngine({ baseUrl: up.url });
    const codeFor = async (status: number) =>
      collect(
        engine.generate(
          { model: String(status), messages: [{ role: 'user', content: 'x' }] },
          { signal: signal() },
        ),
      ).catch((err: { code?: string }) => err.code);
    expect(await codeFor(503)).toBe('engine_unavailable');
    expect(await codeFor(429)).toBe('engine_unavailable');
    expect(await codeFor(404)).toBe('model_not_found');
    expect(await codeFor(400)).toBe('invalid_request');
    expect(await codeFor(500)).toBe('engine_failure');
  });

  it('calls a stream that ends without [DONE] incomplete, and an unreachable upstream unavailable', async () => {
    const up = await upstream({
      'POST /v1/chat/completions': (_b, res) => sse(res, [delta('a')]),
    });
    const req = { model: 'm', messages: [{ role: 'user' as const, content: 'x' }] };
    const engine = new OpenAIUpstreamEngine({ baseUrl: up.url });
    await expect(collect(engine.generate(req, { signal: signal() }))).rejects.toMatchObject({
      code: 'stream_incomplete',
    });
    const dead = new OpenAIUpstreamEngine({ baseUrl: 'http://127.0.0.1:1' });
    await expect(collect(dead.generate(req, { signal: signal() }))).rejects.toMatchObject({
      code: 'engine_unavailable',
    });
  });

  it('closes the upstream request when the consumer stops early', async () => {
    let closed = false;
    const up = await upstream({
      'POST /v1/chat/completions': (_b, res) => {
        sse(res, [delta('a')], false);
        res.on('close', () => {
          closed = true;
        });
      },
    });
    const engine = new OpenAIUpstreamEngine({ baseUrl: up.url });
    for await (const c of engine.generate(
      { model: 'm', messages: [{ role: 'user', content: 'x' }] },
      { signal: signal() },
    )) {
      expect(c).toEqual({ type: 'token', text: 'a' });
      break;
    }
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(true);
  });

  it('lists models and reads load from /metrics; stops asking after a 404 or 501', async () => {
    const up = await upstream({
      'GET /v1/models': (_b, res) =>
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'a' }, { id: 'b' }] })),
      'GET /metrics': (_b, res) =>
        res.end('vllm:num_requests_running 1\nvllm:num_requests_waiting 4\n'),
    });
    const engine = new OpenAIUpstreamEngine({ baseUrl: up.url, models: ['b'] });
    expect(await engine.listModels()).toEqual([{ name: 'b', loaded: true }]);
    expect(await engine.load()).toEqual({ running: 1, waiting: 4 });

    const bare = await upstream({});
    const none = new OpenAIUpstreamEngine({ baseUrl: bare.url });
    expect(await none.load()).toBeUndefined();
    expect(await none.load()).toBeUndefined();
    expect(bare.hits).toEqual(['GET /metrics']);

    // llama-server started without --metrics answers 501.
    const off = await upstream({
      'GET /metrics': (_b, res) => res.writeHead(501).end('{"error":"metrics disabled"}'),
    });
    const noMetrics = new OpenAIUpstreamEngine({ baseUrl: off.url });
    expect(await noMetrics.load()).toBeUndefined();
    expect(await noMetrics.load()).toBeUndefined();
    expect(off.hits).toEqual(['GET /metrics']);
  });
});

describe('OpenAIUpstreamEngine structured outputs and embeddings', () => {
  const SCHEMA = { type: 'object', properties: { a: { type: 'string' } } };

  it('passes response_format through: json_object and json_schema with name and strict', async () => {
    const seen: Record<string, unknown>[] = [];
    const up = await upstream({
      'POST /v1/chat/completions': (body, res) => {
        seen.push(body);
        sse(res, [delta('{}', 'stop'), '[DONE]']);
      },
    });
    const engine = new OpenAIUpstreamEngine({ baseUrl: up.url });
    const messages = [{ role: 'user' as const, content: 'x' }];
    await collect(
      engine.generate({ model: 'm', messages, format: { type: 'json' } }, { signal: signal() }),
    );
    await collect(
      engine.generate(
        {
          model: 'm',
          messages,
          format: { type: 'json_schema', schema: SCHEMA, name: 'p', strict: true },
        },
        { signal: signal() },
      ),
    );
    await collect(
      engine.generate(
        { model: 'm', messages, format: { type: 'json_schema', schema: SCHEMA } },
        { signal: signal() },
      ),
    );
    expect(seen.map((b) => b.response_format)).toEqual([
      { type: 'json_object' },
      { type: 'json_schema', json_schema: { name: 'p', schema: SCHEMA, strict: true } },
      { type: 'json_schema', json_schema: { name: 'response', schema: SCHEMA } },
    ]);
  });

  it('embeds through /v1/embeddings as floats, ordered by index, with usage', async () => {
    let seen: Record<string, unknown> = {};
    const up = await upstream({
      'POST /v1/embeddings': (body, res) => {
        seen = body;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            object: 'list',
            data: [
              { object: 'embedding', index: 1, embedding: [0, 1] },
              { object: 'embedding', index: 0, embedding: [1, 0] },
            ],
            usage: { prompt_tokens: 5, total_tokens: 5 },
          }),
        );
      },
    });
    const engine = new OpenAIUpstreamEngine({ baseUrl: up.url, apiKey: 'k' });
    const result = await engine.embed(
      { model: 'm', input: ['a', 'b'], dimensions: 2 },
      { signal: signal() },
    );
    expect(seen).toEqual({
      model: 'm',
      input: ['a', 'b'],
      encoding_format: 'float',
      dimensions: 2,
    });
    expect(result).toEqual({
      embeddings: [
        [1, 0],
        [0, 1],
      ],
      promptTokens: 5,
    });
  });

  it("maps the upstream's 400 to invalid_request and a short batch to engine_failure", async () => {
    const up = await upstream({
      'POST /v1/embeddings': (body, res) => {
        if ((body.input as string[]).length > 1) {
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ data: [{ index: 0, embedding: [1] }] }));
          return;
        }
        res.writeHead(400).end('{"error":{"message":"model is not an embedding model"}}');
      },
    });
    const engine = new OpenAIUpstreamEngine({ baseUrl: up.url });
    await expect(
      engine.embed({ model: 'm', input: ['a'] }, { signal: signal() }),
    ).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(
      engine.embed({ model: 'm', input: ['a', 'b'] }, { signal: signal() }),
    ).rejects.toMatchObject({ code: 'engine_failure' });
  });
});
