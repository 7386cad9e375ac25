// Structured outputs and embeddings with the real openai and ollama clients, through the
// control plane's 307, on an agent running the embedded engine and the demo model.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Cluster, DEMO_MODEL, startCluster } from '../../scripts/cluster.ts';
import { freePort } from './support/ports.ts';

let cluster: Cluster;
let dataDir: string;
let client: OpenAI;

const CITY = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 30 },
    population: { type: 'integer' },
    coastal: { type: 'boolean' },
  },
  required: ['city', 'population', 'coastal'],
  additionalProperties: false,
};
const validCity = z.fromJSONSchema(CITY as z.core.JSONSchema.JSONSchema);
const question = [{ role: 'user' as const, content: 'Describe a city as JSON.' }];

const cosine = (a: number[], b: number[]) => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const [i, x] of a.entries()) {
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / Math.sqrt(na * nb);
};

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-e2e-api-'));
  cluster = await startCluster({
    cpPort: await freePort(),
    agentPorts: [await freePort()],
    dataDir,
    joinToken: 'e2e-join-token',
    maxConcurrentJobs: 2,
  });
  client = new OpenAI({ baseURL: `${cluster.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('structured outputs through the 307', () => {
  it('openai json_schema: the answer parses and validates, streamed and not', async () => {
    const response_format = {
      type: 'json_schema' as const,
      json_schema: { name: 'city', schema: CITY, strict: true },
    };
    const whole = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: question,
      max_tokens: 300,
      temperature: 0,
      response_format,
    });
    const content = whole.choices[0]?.message.content ?? '';
    expect(whole.choices[0]?.finish_reason).toBe('stop');
    expect(validCity.safeParse(JSON.parse(content)).success, content).toBe(true);

    const stream = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: question,
      max_tokens: 300,
      temperature: 0,
      response_format,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(validCity.safeParse(JSON.parse(text)).success, text).toBe(true);
  });

  // Greedy, with room to finish: a grammar keeps the text JSON but cannot make a sampled answer
  // end (the tiny model may nest objects until max_tokens cuts it, which is then not JSON).
  it('openai json_object and ollama format give JSON', async () => {
    const whole = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: question,
      max_tokens: 300,
      temperature: 0,
      response_format: { type: 'json_object' },
    });
    expect(whole.choices[0]?.finish_reason).toBe('stop');
    expect(() => JSON.parse(whole.choices[0]?.message.content ?? '')).not.toThrow();

    const ollama = new Ollama({ host: cluster.url });
    const chat = await ollama.chat({
      model: DEMO_MODEL,
      messages: question,
      format: CITY,
      options: { num_predict: 300, temperature: 0 },
    });
    expect(validCity.safeParse(JSON.parse(chat.message.content)).success).toBe(true);
  });

  it('an unsupported schema is a 400 naming the keyword, in each dialect', async () => {
    const schema = { type: 'object', properties: { n: { type: 'number', minimum: 3 } } };
    const err = await client.chat.completions
      .create({
        model: DEMO_MODEL,
        messages: question,
        response_format: { type: 'json_schema', json_schema: { name: 'n', schema } },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain("'minimum'");

    const res = await fetch(`${cluster.url}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: DEMO_MODEL, messages: question, format: schema }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain("'minimum'");
  });
});

describe('embeddings through the 307', () => {
  it('openai client: a batch with the model dimension, cosine(a, a) = 1, base64 = float', async () => {
    const texts = ['The cat sat on the mat.', 'Quarterly revenue grew.', 'The cat sat on the mat.'];
    const res = await client.embeddings.create({ model: DEMO_MODEL, input: texts });
    expect(res.data.map((d) => d.index)).toEqual([0, 1, 2]);
    const [a, b, a2] = res.data.map((d) => d.embedding);
    expect(a).toHaveLength(576);
    expect(b).toHaveLength(576);
    expect(cosine(a ?? [], a2 ?? [])).toBeCloseTo(1, 6);
    expect(cosine(a ?? [], b ?? [])).toBeLessThan(0.9999);
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);

    // The openai client asks for base64 by default when no format is given and decodes it;
    // asking for float explicitly must give the same vector.
    const floats = await client.embeddings.create({
      model: DEMO_MODEL,
      input: texts[0] ?? '',
      encoding_format: 'float',
    });
    const decoded = floats.data[0]?.embedding ?? [];
    expect(decoded.map((x) => Math.fround(x))).toEqual(a?.map((x) => Math.fround(x)));
  });

  it('ollama client: /api/embed', async () => {
    const ollama = new Ollama({ host: cluster.url });
    const res = await ollama.embed({ model: DEMO_MODEL, input: ['hello', 'world'] });
    expect(res.embeddings).toHaveLength(2);
    expect(res.embeddings[0]).toHaveLength(576);
  });
});

describe('tool calling through the 307', () => {
  const WEATHER = {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      description: 'The current weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 30 } },
        required: ['city'],
        additionalProperties: false,
      },
    },
  };
  const validArgs = z.fromJSONSchema(WEATHER.function.parameters as z.core.JSONSchema.JSONSchema);
  const ask = [{ role: 'user' as const, content: 'What is the weather in Paris?' }];

  it('openai client: a named call streamed and reassembled by the client, then a round trip', async () => {
    const stream = client.chat.completions.stream({
      model: DEMO_MODEL,
      messages: ask,
      tools: [WEATHER],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 80,
      temperature: 0,
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    const call = final.choices[0]?.message.tool_calls?.[0];
    if (call?.type !== 'function') throw new Error('no function call');
    expect(call.function.name).toBe('get_weather');
    expect(validArgs.safeParse(JSON.parse(call.function.arguments)).success).toBe(true);

    const answer = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: [
        ...ask,
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: '{"temperature": 21, "sky": "sunny"}' },
      ],
      tools: [WEATHER],
      tool_choice: 'none',
      max_tokens: 40,
      temperature: 0,
    });
    expect(answer.choices[0]?.message.tool_calls).toBeUndefined();
    expect(answer.choices[0]?.message.content?.trim().length).toBeGreaterThan(0);
  });

  it('ollama client: a conversation with tool_calls and a tool message is answered', async () => {
    const ollama = new Ollama({ host: cluster.url });
    const res = await ollama.chat({
      model: DEMO_MODEL,
      messages: [
        ...ask,
        {
          role: 'assistant',
          content: '',
          tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }],
        },
        { role: 'tool', content: '{"temperature": 21}', tool_name: 'get_weather' },
      ],
      options: { num_predict: 30, temperature: 0 },
    });
    expect(res.done).toBe(true);
    expect(res.message.content.trim().length).toBeGreaterThan(0);
  });

  it('a malformed tool is refused by the control plane with a 400 naming it', async () => {
    const err = await client.chat.completions
      .create({
        model: DEMO_MODEL,
        messages: ask,
        tools: [{ type: 'function', function: { name: 'bad name' } }],
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ status: 400, param: 'tools.0.function.name' });
  });
});

describe('logprobs, seed, stop, usage and n through the 307', () => {
  const hello = [{ role: 'user' as const, content: 'Say hello.' }];

  it('openai chat: logprobs.content is well-formed, whole and per streamed delta', async () => {
    const whole = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: hello,
      max_tokens: 8,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    });
    const content = whole.choices[0]?.logprobs?.content ?? [];
    expect(content.length).toBe(whole.usage?.completion_tokens);
    expect(content.map((t) => t.token).join('')).toBe(whole.choices[0]?.message.content);
    for (const t of content) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.bytes).toEqual([...new TextEncoder().encode(t.token)]);
      expect(t.top_logprobs).toHaveLength(2);
      expect(t.top_logprobs[0]?.token).toBe(t.token);
    }

    const stream = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: hello,
      max_tokens: 8,
      temperature: 0,
      logprobs: true,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let tokens = 0;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      const delta = chunk.choices[0];
      if (delta?.delta.content) {
        text += delta.delta.content;
        const scored = delta.logprobs?.content ?? [];
        expect(scored.map((t) => t.token).join('')).toBe(delta.delta.content);
        tokens += scored.length;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(whole.choices[0]?.message.content);
    expect(usage?.completion_tokens).toBe(tokens);
  });

  it('openai completions: tokens, token_logprobs, top_logprobs, text_offset', async () => {
    const res = await client.completions.create({
      model: DEMO_MODEL,
      prompt: 'One, two, three,',
      max_tokens: 6,
      temperature: 0,
      logprobs: 1,
    });
    const lp = res.choices[0]?.logprobs;
    expect(lp?.tokens?.join('')).toBe(res.choices[0]?.text);
    expect(lp?.token_logprobs).toHaveLength(lp?.tokens?.length ?? -1);
    expect(lp?.top_logprobs?.every((top) => Object.keys(top).length === 1)).toBe(true);
    expect(lp?.text_offset?.[0]).toBe(0);
  });

  it('seed: a sampled answer is reproduced; stop as a string or a list ends the answer', async () => {
    const sampled = () =>
      client.chat.completions.create({
        model: DEMO_MODEL,
        messages: [{ role: 'user', content: 'Tell me a story.' }],
        max_tokens: 12,
        temperature: 1,
        seed: 1234,
      });
    const [a, b] = [await sampled(), await sampled()];
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);

    const counted = { model: DEMO_MODEL, prompt: 'One, two, three, four,', max_tokens: 20 };
    const full = (await client.completions.create({ ...counted, temperature: 0 })).choices[0];
    // The greedy answer's second word, as a stop string: the answer must end just before it.
    const word = full?.text.trim().split(/\s+/)[1] ?? '';
    const cut = full?.text.indexOf(word) ?? -1;
    expect(cut, full?.text).toBeGreaterThan(0);
    for (const stop of [word, [word, 'never said']]) {
      const res = await client.completions.create({ ...counted, temperature: 0, stop });
      expect(res.choices[0]?.text).toBe(full?.text.slice(0, cut));
      expect(res.choices[0]?.finish_reason).toBe('stop');
    }
  });

  it('n = 2: two choices, streamed by index and not, seeded; n above the cap is a 400 naming n', async () => {
    const asked = { model: DEMO_MODEL, messages: hello, n: 2, max_tokens: 8, seed: 7 };
    const whole = await client.chat.completions.create(asked);
    expect(whole.choices.map((c) => c.index)).toEqual([0, 1]);
    for (const c of whole.choices) expect(c.message.content?.length).toBeGreaterThan(0);
    expect(whole.usage?.completion_tokens).toBeLessThanOrEqual(2 * 8);

    const stream = await client.chat.completions.create({
      ...asked,
      stream: true,
      stream_options: { include_usage: true },
    });
    const texts = ['', ''];
    const finishes: (string | null)[] = [null, null];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        texts[c.index] += c.delta.content ?? '';
        if (c.finish_reason) finishes[c.index] = c.finish_reason;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    // Same seeds (7, then 8 for the second choice): the same two answers as not streamed.
    expect(texts).toEqual(whole.choices.map((c) => c.message.content));
    expect(finishes).toEqual(whole.choices.map((c) => c.finish_reason));
    expect(usage).toMatchObject({
      prompt_tokens: whole.usage?.prompt_tokens,
      completion_tokens: whole.usage?.completion_tokens,
    });

    const err = await client.chat.completions
      .create({ model: DEMO_MODEL, messages: hello, n: 9 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ status: 400, param: 'n' });
  });
});
