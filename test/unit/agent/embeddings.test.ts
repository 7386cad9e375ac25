// Embedding routes on the fake engine: OpenAI float/base64 and usage, Ollama's shape, 400s, reports.
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../agent/engines/engine.ts';
import { FAKE_EMBEDDING_SIZE, FakeEngine } from '../../../agent/engines/fake.ts';
import { float32Base64 } from '../../../agent/http/embeddings.ts';
import { MODEL, makeAgent, post, until } from './helpers.ts';

interface OpenAIEmbeddings {
  object: string;
  data: { object: string; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

const expected = async (input: string[]) =>
  (await new FakeEngine({ models: [MODEL] }).embed({ model: MODEL, input })).embeddings;

describe('POST /v1/embeddings', () => {
  it('embeds a batch in order, with usage, and reports the job', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/embeddings',
      { model: MODEL, input: ['one two', 'three'] },
      await agent.ticket(),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as OpenAIEmbeddings;
    expect(body).toMatchObject({ object: 'list', model: MODEL });
    expect(body.data.map((d) => [d.object, d.index])).toEqual([
      ['embedding', 0],
      ['embedding', 1],
    ]);
    expect(body.data.map((d) => d.embedding)).toEqual(await expected(['one two', 'three']));
    expect(body.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    expect(agent.engine.embedRequests).toEqual([{ model: MODEL, input: ['one two', 'three'] }]);
    expect(agent.reports.map((r) => r.report)).toMatchObject([
      { outcome: 'success', model: MODEL, promptTokens: 3, completionTokens: 0 },
    ]);
    expect(agent.jobs.active).toBe(0);
  });

  it('a single string is a batch of one; base64 is little-endian float32', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/embeddings',
      { model: MODEL, input: 'hello', encoding_format: 'base64', dimensions: FAKE_EMBEDDING_SIZE },
      await agent.ticket(),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as OpenAIEmbeddings;
    expect(body.data).toHaveLength(1);
    const encoded = body.data[0]?.embedding as string;
    const bytes = Uint8Array.from(atob(encoded), (ch) => ch.charCodeAt(0));
    const decoded = [...new Float32Array(bytes.buffer)];
    const [vector] = await expected(['hello']);
    expect(decoded).toEqual(vector?.map((v) => Math.fround(v)));
    expect(agent.engine.embedRequests[0]?.dimensions).toBe(FAKE_EMBEDDING_SIZE);
  });

  it.each([
    [{ model: MODEL }, 'input'],
    [{ model: MODEL, input: '' }, 'input'],
    [{ model: MODEL, input: [] }, 'input'],
    [{ model: MODEL, input: [[1, 2, 3]] }, 'input'],
    [{ model: MODEL, input: 'x', encoding_format: 'int8' }, 'encoding_format'],
    [{ model: MODEL, input: 'x', dimensions: 0 }, 'dimensions'],
  ])('%j is a 400 naming %s', async (body, param) => {
    const agent = await makeAgent();
    const res = await post(agent, '/v1/embeddings', body, await agent.ticket());
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param);
    expect(agent.engine.embedRequests).toHaveLength(0);
    expect(agent.reports.map((r) => r.report.outcome)).toEqual(['rejected']);
    expect(agent.jobs.active).toBe(0);
  });

  it('needs a ticket for the model it names', async () => {
    const agent = await makeAgent();
    const none = await post(agent, '/v1/embeddings', { model: MODEL, input: 'x' }, undefined);
    expect(none.status).toBe(401);
    const other = await post(
      agent,
      '/v1/embeddings',
      { model: MODEL, input: 'x' },
      await agent.ticket({ model: 'other' }),
    );
    expect(other.status).toBe(401);
    expect(agent.engine.embedRequests).toHaveLength(0);
  });

  it("an engine's refusal keeps its status and frees the slot", async () => {
    const agent = await makeAgent({
      engine: { failBeforeStart: new EngineError('invalid_request', 'input too long') },
    });
    const res = await post(
      agent,
      '/v1/embeddings',
      { model: MODEL, input: 'x' },
      await agent.ticket(),
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      'input too long',
    );
    expect(agent.reports.map((r) => r.report.outcome)).toEqual(['rejected']);
    expect(agent.jobs.active).toBe(0);
  });
});

describe('POST /api/embed', () => {
  it("answers in Ollama's shape", async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/api/embed',
      { model: MODEL, input: ['a b', 'c'] },
      await agent.ticket(),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ model: MODEL, prompt_eval_count: 3, load_duration: 0 });
    expect(body.embeddings).toEqual(await expected(['a b', 'c']));
    expect(typeof body.total_duration).toBe('number');
  });

  it('a bad input is a 400 with a plain error string', async () => {
    const agent = await makeAgent();
    const res = await post(agent, '/api/embed', { model: MODEL, input: 7 }, await agent.ticket());
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/^input: /);
  });
});

describe('float32Base64', () => {
  it('encodes little-endian float32', () => {
    expect(float32Base64([1, -2])).toBe(btoa(String.fromCharCode(0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0)));
  });
});

describe('settling before the answer', () => {
  it('frees the slot and delivers the report before the embeddings leave', async () => {
    let deliver = () => {};
    const delivered = new Promise<void>((resolve) => {
      deliver = resolve;
    });
    const agent = await makeAgent({ maxConcurrentJobs: 1, onReport: () => delivered });
    let answered = false;
    const answer = post(agent, '/api/embed', { model: MODEL, input: 'one' }, await agent.ticket());
    void answer.then(() => {
      answered = true;
    });
    await until(() => agent.reports.length === 1);
    expect(agent.reports[0]?.report.outcome).toBe('success');
    expect(agent.jobs.active).toBe(0);
    // The report is not delivered yet: the answer is held back.
    await Promise.resolve();
    expect(answered).toBe(false);
    deliver();
    expect((await answer).status).toBe(200);
  });
});
