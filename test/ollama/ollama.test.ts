// Against a real `ollama serve` built from its Go module (scripts/build-ollama.sh) on loopback:
// the Ollama engine and the OpenAI-compatible upstream engine (Ollama's /v1), alone and behind the
// agent's HTTP routes with a real ticket.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentApp } from '../../agent/app.ts';
import type { DoneChunk, GenerateRequest, InferenceEngine } from '../../agent/engines/engine.ts';
import { OllamaEngine } from '../../agent/engines/ollama.ts';
import { OpenAIUpstreamEngine } from '../../agent/engines/openai-upstream.ts';
import { createTicketVerifier } from '../../agent/tickets.ts';
import { DEMO_MODEL, DEMO_MODEL_PATH, requiredEnv, waitFor } from '../../scripts/cluster.ts';
import { freePort } from '../e2e/support/ports.ts';
import {
  AGENT_ID,
  ISSUER,
  localKeys,
  makeSigningKey,
  parseNDJSON,
  parseSSE,
  signTicket,
} from '../unit/agent/helpers.ts';

const OLLAMA_BIN = requiredEnv('OLLAMA_BIN', 'npm run test:ollama');
let server: ChildProcess;
let home: string;
let host: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'titan-ollama-'));
  host = `127.0.0.1:${await freePort()}`;
  const env = {
    ...process.env,
    OLLAMA_HOST: host,
    OLLAMA_MODELS: join(home, 'models'),
    OLLAMA_NUM_PARALLEL: '2',
    HOME: home,
  };
  server = spawn(OLLAMA_BIN, ['serve'], { env, stdio: 'ignore' });
  await waitFor('ollama serve', async () =>
    (await fetch(`http://${host}/api/version`)).ok ? true : undefined,
  );
  const modelfile = join(home, 'Modelfile');
  await writeFile(modelfile, `FROM ${DEMO_MODEL_PATH}\n`);
  execFileSync(OLLAMA_BIN, ['create', DEMO_MODEL, '-f', modelfile], { env, stdio: 'ignore' });
});

afterAll(async () => {
  server?.kill('SIGTERM');
  if (home) await rm(home, { recursive: true, force: true });
});

async function run(
  engine: InferenceEngine,
  req: Omit<GenerateRequest, 'model'>,
  signal?: AbortSignal,
) {
  let text = '';
  let done: DoneChunk | undefined;
  const full = { model: DEMO_MODEL, ...req } as GenerateRequest;
  for await (const c of engine.generate(full, { signal: signal ?? new AbortController().signal })) {
    if (c.type === 'token') text += c.text;
    else if (c.type === 'done') done = c;
  }
  return { text, done };
}

const hello = { messages: [{ role: 'user' as const, content: 'Say hello.' }] };

describe('Ollama engine against ollama serve', () => {
  it('passes sampling options, reads /api/ps and /api/show, advertises NUM_PARALLEL', async () => {
    const engine = new OllamaEngine({ host: `http://${host}`, numParallel: 2 });
    expect(engine.capacity).toBe(2);
    const limited = await run(engine, { ...hello, maxTokens: 3, temperature: 0, topK: 5 });
    expect(limited.done).toMatchObject({ finishReason: 'length', completionTokens: 3 });
    const seeded = { ...hello, maxTokens: 8, temperature: 0.9, seed: 11, minP: 0.05 };
    expect((await run(engine, seeded)).text).toBe((await run(engine, seeded)).text);

    const [model] = await engine.listModels();
    expect(model).toMatchObject({ name: DEMO_MODEL, loaded: true });
    expect(model?.memoryBytes).toBeGreaterThan(50_000_000);
    expect(await engine.modelFacts(DEMO_MODEL)).toMatchObject({
      family: 'llama',
      quantization: 'Q4_1',
      contextLength: 8192,
    });
  }, 300_000);

  it('aborts one stream without touching the other', async () => {
    const engine = new OllamaEngine({ host: `http://${host}` });
    const stop = new AbortController();
    const long = { ...hello, maxTokens: 200, temperature: 0 };
    const aborted = (async () => {
      for await (const c of engine.generate(
        { model: DEMO_MODEL, ...long },
        { signal: stop.signal },
      )) {
        if (c.type === 'token') stop.abort();
      }
    })().catch((err: { code?: string }) => err.code);
    const other = run(engine, { ...hello, maxTokens: 6, temperature: 0 });
    expect(await aborted).toBe('aborted');
    expect((await other).done?.completionTokens).toBe(6);
  }, 300_000);
});

describe("OpenAI upstream engine against Ollama's /v1", () => {
  it('lists models, streams with usage, and has no /metrics to read', async () => {
    const engine = new OpenAIUpstreamEngine({ baseUrl: `http://${host}/v1` });
    expect((await engine.listModels()).map((m) => m.name)).toContain(DEMO_MODEL);
    const r = await run(engine, { ...hello, maxTokens: 4, temperature: 0 });
    expect(r.text.length).toBeGreaterThan(0);
    expect(r.done).toMatchObject({ finishReason: 'length', completionTokens: 4 });
    expect(r.done?.promptTokens).toBeGreaterThan(0);
    expect(await engine.load()).toBeUndefined();
  }, 300_000);

  it('serves ticketed requests through the agent routes for both engines', async () => {
    const key = await makeSigningKey('ollama-e2e');
    const tickets = createTicketVerifier({
      audience: AGENT_ID,
      issuer: ISSUER,
      keys: localKeys(key),
      registeredAt: 0,
    });
    const engines = [
      new OpenAIUpstreamEngine({ baseUrl: `http://${host}` }),
      new OllamaEngine({ host: `http://${host}` }),
    ];
    for (const engine of engines) {
      const app = createAgentApp({
        engine,
        tickets,
        config: { agentId: AGENT_ID, maxConcurrentJobs: 2 },
      });
      const ticket = await signTicket(key, { model: DEMO_MODEL });
      const sse = await app.request(`/v1/chat/completions?ticket=${ticket}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: DEMO_MODEL, ...hello, max_tokens: 4, stream: true }),
      });
      expect(sse.status).toBe(200);
      expect(parseSSE(await sse.text()).at(-1)).toBe('[DONE]');
      const ticket2 = await signTicket(key, { model: DEMO_MODEL });
      const nd = await app.request(`/api/chat?ticket=${ticket2}`, {
        method: 'POST',
        body: JSON.stringify({ model: DEMO_MODEL, ...hello, options: { num_predict: 3 } }),
      });
      expect(parseNDJSON(await nd.text()).at(-1)).toMatchObject({ done: true, eval_count: 3 });
    }
  }, 300_000);
});

describe('structured outputs and embeddings against ollama serve', () => {
  const CITY = {
    type: 'object',
    properties: { city: { type: 'string' }, coastal: { type: 'boolean' } },
    required: ['city', 'coastal'],
  };
  const valid = (text: string) => {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    return typeof parsed.city === 'string' && typeof parsed.coastal === 'boolean';
  };
  const ask = { messages: [{ role: 'user' as const, content: 'Describe a city as JSON.' }] };
  const engines = () => [
    new OllamaEngine({ host: `http://${host}` }),
    new OpenAIUpstreamEngine({ baseUrl: `http://${host}/v1` }),
  ];

  it('a json_schema answer validates, and json mode gives JSON, on both engines', async () => {
    for (const engine of engines()) {
      const schema = { type: 'json_schema' as const, schema: CITY, name: 'city' };
      const r = await run(engine, { ...ask, format: schema, maxTokens: 100, temperature: 0 });
      expect(valid(r.text), `${engine.kind}: ${r.text}`).toBe(true);
      // Greedy, with room to finish: a sampled answer may ramble past max_tokens, and JSON cut
      // off there is not a format failure.
      const json = await run(engine, {
        messages: [{ role: 'user', content: 'Reply with a JSON object whose only key is "city".' }],
        format: { type: 'json' },
        maxTokens: 200,
        temperature: 0,
      });
      expect(json.done?.finishReason, `${engine.kind}: ${json.text}`).toBe('stop');
      expect(() => JSON.parse(json.text), `${engine.kind}: ${json.text}`).not.toThrow();
    }
  }, 300_000);

  it('embeds a batch on both engines: same size, deterministic', async () => {
    const signal = new AbortController().signal;
    for (const engine of engines()) {
      const a = await engine.embed?.({ model: DEMO_MODEL, input: ['hello', 'world'] }, { signal });
      const b = await engine.embed?.({ model: DEMO_MODEL, input: ['hello'] }, { signal });
      expect(a?.embeddings).toHaveLength(2);
      expect(a?.embeddings[0]?.length).toBeGreaterThan(0);
      expect(a?.embeddings[1]).toHaveLength(a?.embeddings[0]?.length ?? -1);
      expect(b?.embeddings[0]).toEqual(a?.embeddings[0]);
    }
  }, 300_000);
});

describe('tool calling against ollama serve', () => {
  const TOOL = {
    name: 'get_weather',
    description: 'The current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  };
  const ask = { messages: [{ role: 'user' as const, content: 'What is the weather in Paris?' }] };

  it("a model whose template has no tool format: Ollama's 400, relayed by both engines and the agent", async () => {
    // The demo GGUF's template (ChatML) has no tools section, so Ollama refuses tools for it.
    for (const engine of [
      new OllamaEngine({ host: `http://${host}` }),
      new OpenAIUpstreamEngine({ baseUrl: `http://${host}/v1` }),
    ]) {
      await expect(
        run(engine, { ...ask, tools: [TOOL], maxTokens: 40 }),
        engine.kind,
      ).rejects.toMatchObject({ code: 'invalid_request', message: /does not support tools/ });
    }
    const key = await makeSigningKey('ollama-tools');
    const app = createAgentApp({
      engine: new OllamaEngine({ host: `http://${host}` }),
      tickets: createTicketVerifier({
        audience: AGENT_ID,
        issuer: ISSUER,
        keys: localKeys(key),
        registeredAt: 0,
      }),
      config: { agentId: AGENT_ID, maxConcurrentJobs: 2 },
    });
    const ticket = await signTicket(key, { model: DEMO_MODEL });
    const res = await app.request(`/api/chat?ticket=${ticket}`, {
      method: 'POST',
      body: JSON.stringify({
        model: DEMO_MODEL,
        ...ask,
        tools: [{ type: 'function', function: TOOL }],
        stream: false,
      }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/does not support tools/);
  }, 300_000);

  it('tool_choice required is refused by the Ollama engine before Ollama is asked', async () => {
    await expect(
      run(new OllamaEngine({ host: `http://${host}` }), {
        ...ask,
        tools: [TOOL],
        toolChoice: 'required',
      }),
    ).rejects.toMatchObject({ code: 'invalid_request', message: /^tool_choice:/ });
  }, 300_000);
});

describe('logprobs, seed and stop against ollama serve', () => {
  const engines = () => [
    new OllamaEngine({ host: `http://${host}` }),
    new OpenAIUpstreamEngine({ baseUrl: `http://${host}/v1` }),
  ];

  it('logprobs come back in OpenAI form from /api and from /v1', async () => {
    for (const [engine, top] of engines().flatMap((e) => [[e, 2] as const, [e, 0] as const])) {
      let text = '';
      const entries: { token: string; logprob: number; top: unknown[] }[] = [];
      const req = { model: DEMO_MODEL, ...hello, maxTokens: 6, temperature: 0, logprobs: top };
      for await (const c of engine.generate(req, { signal: new AbortController().signal })) {
        if (c.type !== 'token') continue;
        text += c.text;
        entries.push(...(c.logprobs ?? []));
      }
      expect(entries.length, engine.kind).toBeGreaterThan(0);
      expect(entries.map((e) => e.token).join(''), engine.kind).toBe(text);
      for (const e of entries) {
        expect(e.logprob).toBeLessThanOrEqual(0);
        expect(e.top, engine.kind).toHaveLength(top);
      }
    }
  }, 300_000);

  it('a seed reproduces a sampled answer; a stop string ends it, on both engines', async () => {
    for (const engine of engines()) {
      const seeded = { ...hello, maxTokens: 10, temperature: 1, seed: 5 };
      expect((await run(engine, seeded)).text, engine.kind).toBe((await run(engine, seeded)).text);
      const counted = { prompt: 'One, two, three, four,', maxTokens: 12, temperature: 0 };
      const full = await run(engine, counted);
      // The greedy answer's second word, as a stop string: the answer must end just before it.
      const stop = full.text.trim().split(/\s+/)[1] ?? '';
      const cut = full.text.indexOf(stop);
      expect(cut, `${engine.kind}: ${full.text}`).toBeGreaterThan(0);
      const stopped = await run(engine, { ...counted, stop: [stop] });
      expect(stopped.text, engine.kind).toBe(full.text.slice(0, cut));
      expect(stopped.done?.finishReason, engine.kind).toBe('stop');
    }
  }, 300_000);
});
