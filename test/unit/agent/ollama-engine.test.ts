// Ollama engine against a tiny local server speaking Ollama's NDJSON: mapping, abort, truncation.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { GenerateChunk } from '../../../agent/engines/engine.ts';
import { OllamaEngine, probeOllama } from '../../../agent/engines/ollama.ts';
import { chooseEngine, type EngineSelection } from '../../../agent/engines/select.ts';

type Handler = (body: Record<string, unknown>, res: ServerResponse, req: IncomingMessage) => void;

let server: Server | undefined;

async function fakeOllama(routes: Record<string, Handler>): Promise<string> {
  const created = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      const handler = routes[`${req.method} ${req.url}`];
      if (!handler) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
        return;
      }
      handler(raw ? JSON.parse(raw) : {}, res, req);
    });
  });
  server = created;
  await new Promise<void>((resolve) => created.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(created.address() as AddressInfo).port}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

const ndjson = (res: ServerResponse, lines: unknown[]) => {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  for (const line of lines) res.write(`${JSON.stringify(line)}\n`);
  res.end();
};

async function drain(iterable: AsyncIterable<GenerateChunk>): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const chunk of iterable) out.push(chunk);
  return out;
}

const signal = () => new AbortController().signal;

describe('OllamaEngine', () => {
  it('streams /api/chat with mapped options and ends with done counts', async () => {
    const seen: Record<string, unknown>[] = [];
    const host = await fakeOllama({
      'POST /api/chat': (body, res) => {
        seen.push(body);
        ndjson(res, [
          { model: 'm', message: { role: 'assistant', content: 'Hi' }, done: false },
          { model: 'm', message: { role: 'assistant', content: ' there' }, done: false },
          {
            model: 'm',
            message: { role: 'assistant', content: '' },
            done: true,
            done_reason: 'length',
            prompt_eval_count: 9,
            eval_count: 2,
          },
        ]);
      },
    });
    const engine = new OllamaEngine({ host });
    const chunks = await drain(
      engine.generate(
        {
          model: 'm',
          messages: [{ role: 'user', content: 'hello' }],
          maxTokens: 2,
          temperature: 0.1,
          topP: 0.9,
          topK: 5,
          seed: 3,
          stop: ['\n'],
        },
        { signal: signal() },
      ),
    );
    expect(chunks).toEqual([
      { type: 'token', text: 'Hi' },
      { type: 'token', text: ' there' },
      { type: 'done', finishReason: 'length', promptTokens: 9, completionTokens: 2 },
    ]);
    expect(seen[0]).toMatchObject({
      model: 'm',
      stream: true,
      messages: [{ role: 'user', content: 'hello' }],
      options: { num_predict: 2, temperature: 0.1, top_p: 0.9, top_k: 5, seed: 3, stop: ['\n'] },
    });
  });

  it('sends raw prompts to /api/generate', async () => {
    const seen: Record<string, unknown>[] = [];
    const host = await fakeOllama({
      'POST /api/generate': (body, res) => {
        seen.push(body);
        ndjson(res, [
          { response: 'x', done: false },
          { response: '', done: true, done_reason: 'stop', prompt_eval_count: 1, eval_count: 1 },
        ]);
      },
    });
    const chunks = await drain(
      new OllamaEngine({ host }).generate({ model: 'm', prompt: 'abc' }, { signal: signal() }),
    );
    expect(chunks.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
    expect(seen[0]).toMatchObject({ prompt: 'abc', raw: true, stream: true });
  });

  it('throws when the stream ends without done', async () => {
    const host = await fakeOllama({
      'POST /api/chat': (_body, res) =>
        ndjson(res, [{ message: { role: 'assistant', content: 'a' }, done: false }]),
    });
    const run = drain(
      new OllamaEngine({ host }).generate(
        { model: 'm', messages: [{ role: 'user', content: 'x' }] },
        { signal: signal() },
      ),
    );
    await expect(run).rejects.toMatchObject({ code: 'stream_incomplete' });
  });

  it('maps a 404 to model_not_found', async () => {
    const host = await fakeOllama({
      'POST /api/chat': (_body, res) =>
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"error":"model not found"}'),
    });
    const run = drain(
      new OllamaEngine({ host }).generate(
        { model: 'm', messages: [{ role: 'user', content: 'x' }] },
        { signal: signal() },
      ),
    );
    await expect(run).rejects.toMatchObject({ code: 'model_not_found' });
  });

  it('aborts only its own stream when its signal aborts', async () => {
    let closed = 0;
    const host = await fakeOllama({
      'POST /api/chat': (_body, res, req) => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write(
          `${JSON.stringify({ message: { role: 'assistant', content: 'a' }, done: false })}\n`,
        );
        req.socket.on('close', () => closed++);
        // never finishes on its own
      },
    });
    const engine = new OllamaEngine({ host });
    const controller = new AbortController();
    const seen: string[] = [];
    const run = (async () => {
      for await (const chunk of engine.generate(
        { model: 'm', messages: [{ role: 'user', content: 'x' }] },
        { signal: controller.signal },
      )) {
        if (chunk.type === 'token') {
          seen.push(chunk.text);
          controller.abort();
        }
      }
    })();
    await expect(run).rejects.toMatchObject({ code: 'aborted' });
    expect(seen).toEqual(['a']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(1);
  });

  it('lists models from /api/tags with their quantization, marking loaded ones from /api/ps, filtered by SUPPORTED_MODELS', async () => {
    const host = await fakeOllama({
      'GET /api/tags': (_b, res) =>
        res.end(
          JSON.stringify({
            models: [
              { name: 'a:1', size: 100, details: { quantization_level: 'Q4_K_M' } },
              { name: 'b:2', size: 200 },
            ],
          }),
        ),
      'GET /api/ps': (_b, res) => res.end(JSON.stringify({ models: [{ name: 'b:2' }] })),
    });
    expect(await new OllamaEngine({ host }).listModels()).toEqual([
      // Ollama's quantization_level passes through as the model's quantization.
      { name: 'a:1', loaded: false, memoryBytes: 100, quantization: 'Q4_K_M' },
      { name: 'b:2', loaded: true, memoryBytes: 200 },
    ]);
    expect(await new OllamaEngine({ host, models: ['b:2'] }).listModels()).toHaveLength(1);
  });
});

describe('engine selection', () => {
  it('picks Ollama only when OLLAMA_HOST answers /api/version', async () => {
    const host = await fakeOllama({
      'GET /api/version': (_b, res) => res.end('{"version":"0.6.0"}'),
    });
    expect(await probeOllama(host)).toBe(true);
    const base = { modelPath: 'x.gguf', maxConcurrentJobs: 1 };
    const kind = async (sel: Partial<EngineSelection>) =>
      (await chooseEngine({ ...base, ...sel })).kind;
    expect(await kind({ ollamaHost: host.replace('http://', '') })).toBe('ollama');
    expect(await kind({})).toBe('llama-cpp');
    expect(await kind({ ollamaHost: host, engine: 'llama-cpp' })).toBe('llama-cpp');
    expect(await kind({ ollamaHost: 'http://127.0.0.1:9', probeTimeoutMs: 500 })).toBe('llama-cpp');
  });
});

describe('OllamaEngine structured outputs and embeddings', () => {
  const SCHEMA = { type: 'object', properties: { a: { type: 'string' } } };
  const done = { model: 'm', done: true, done_reason: 'stop', prompt_eval_count: 1, eval_count: 1 };

  it('sends format "json" or the schema itself on /api/chat and /api/generate', async () => {
    const seen: Record<string, unknown>[] = [];
    const host = await fakeOllama({
      'POST /api/chat': (body, res) => {
        seen.push(body);
        ndjson(res, [{ ...done, message: { role: 'assistant', content: '{}' } }]);
      },
      'POST /api/generate': (body, res) => {
        seen.push(body);
        ndjson(res, [{ ...done, response: '{}' }]);
      },
    });
    const engine = new OllamaEngine({ host });
    const messages = [{ role: 'user' as const, content: 'x' }];
    await drain(
      engine.generate({ model: 'm', messages, format: { type: 'json' } }, { signal: signal() }),
    );
    await drain(
      engine.generate(
        { model: 'm', prompt: 'x', format: { type: 'json_schema', schema: SCHEMA } },
        { signal: signal() },
      ),
    );
    await drain(engine.generate({ model: 'm', messages }, { signal: signal() }));
    expect(seen.map((b) => b.format)).toEqual(['json', SCHEMA, undefined]);
  });

  it('embeds a batch through /api/embed', async () => {
    let seen: Record<string, unknown> = {};
    const host = await fakeOllama({
      'POST /api/embed': (body, res) => {
        seen = body;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            model: 'm',
            embeddings: [
              [1, 2],
              [3, 4],
            ],
            prompt_eval_count: 4,
          }),
        );
      },
    });
    const engine = new OllamaEngine({ host });
    const result = await engine.embed({ model: 'm', input: ['a', 'b'] }, { signal: signal() });
    expect(seen).toMatchObject({ model: 'm', input: ['a', 'b'] });
    expect(result).toEqual({
      embeddings: [
        [1, 2],
        [3, 4],
      ],
      promptTokens: 4,
    });
  });

  it("maps Ollama's 400 (not an embedding model) to invalid_request", async () => {
    const host = await fakeOllama({
      'POST /api/embed': (_body, res) => {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end('{"error":"this model does not support embeddings"}');
      },
    });
    const engine = new OllamaEngine({ host });
    await expect(
      engine.embed({ model: 'm', input: ['a'] }, { signal: signal() }),
    ).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
