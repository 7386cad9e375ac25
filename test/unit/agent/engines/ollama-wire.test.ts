// Ollama engine against a local server speaking Ollama's documented wire format (format tests):
// 503 back-pressure, /api/ps memory, /api/show facts, sampling options, NUM_PARALLEL slots.
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { OllamaEngine } from '../../../../agent/engines/ollama.ts';
import { serveRoutes } from './wire-server.ts';

const fakeOllama = serveRoutes;

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

describe('Ollama wire format', () => {
  it("treats 503 (Ollama's queue is full) as back-pressure", async () => {
    const host = await fakeOllama({
      'POST /api/chat': (_b, res) =>
        json(res, 503, {
          error: 'server busy, please try again.  maximum pending requests exceeded',
        }),
    });
    const engine = new OllamaEngine({ host });
    const it = engine.generate(
      { model: 'm', messages: [{ role: 'user', content: 'x' }] },
      { signal: new AbortController().signal },
    );
    await expect(it[Symbol.asyncIterator]().next()).rejects.toMatchObject({
      code: 'engine_unavailable',
    });
  });

  it('passes every sampling option as Ollama options', async () => {
    let options: unknown;
    const host = await fakeOllama({
      'POST /api/chat': (body, res) => {
        options = body.options;
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.end(
          `${JSON.stringify({ model: 'm', message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', eval_count: 0 })}\n`,
        );
      },
    });
    const engine = new OllamaEngine({ host });
    for await (const _ of engine.generate(
      {
        model: 'm',
        messages: [{ role: 'user', content: 'x' }],
        maxTokens: 9,
        temperature: 0.5,
        topP: 0.9,
        topK: 20,
        minP: 0.05,
        repeatPenalty: 1.1,
        frequencyPenalty: 0.2,
        presencePenalty: 0.3,
        seed: 4,
        stop: ['END'],
      },
      { signal: new AbortController().signal },
    )) {
    }
    expect(options).toEqual({
      num_predict: 9,
      temperature: 0.5,
      top_p: 0.9,
      top_k: 20,
      min_p: 0.05,
      repeat_penalty: 1.1,
      frequency_penalty: 0.2,
      presence_penalty: 0.3,
      seed: 4,
      stop: ['END'],
    });
  });

  it('takes memory of loaded models from /api/ps and facts from /api/show', async () => {
    const host = await fakeOllama({
      'GET /api/tags': (_b, res) =>
        json(res, 200, {
          models: [
            { name: 'a:1b', model: 'a:1b', size: 1000, details: {} },
            { name: 'b:7b', model: 'b:7b', size: 5000, details: {} },
          ],
        }),
      'GET /api/ps': (_b, res) =>
        json(res, 200, { models: [{ name: 'b:7b', model: 'b:7b', size: 7300, size_vram: 0 }] }),
      'POST /api/show': (body, res) =>
        json(res, 200, {
          details: { family: 'llama', parameter_size: '7B', quantization_level: 'Q4_K_M' },
          model_info: {
            'general.architecture': 'llama',
            'llama.context_length': 4096,
            model: body.model,
          },
        }),
    });
    const engine = new OllamaEngine({ host, numParallel: 3 });
    expect(engine.capacity).toBe(3);
    expect(await engine.listModels()).toEqual([
      { name: 'a:1b', loaded: false, memoryBytes: 1000 },
      { name: 'b:7b', loaded: true, memoryBytes: 7300 },
    ]);
    expect(await engine.modelFacts('b:7b')).toEqual({
      family: 'llama',
      parameterSize: '7B',
      quantization: 'Q4_K_M',
      contextLength: 4096,
    });
  });
});
