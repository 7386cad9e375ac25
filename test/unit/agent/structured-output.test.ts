// Structured outputs: response_format / Ollama format reach the engine request; bad ones are 400s.
import { describe, expect, it } from 'vitest';
import { chatBody, MODEL, makeAgent, post } from './helpers.ts';

const SCHEMA = {
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer' } },
  required: ['name', 'age'],
  additionalProperties: false,
};

describe('OpenAI response_format', () => {
  it('json_schema reaches the engine with its schema, name and strict flag', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'person', schema: SCHEMA, strict: true },
        },
      }),
      await agent.ticket(),
    );
    expect(res.status).toBe(200);
    expect(agent.engine.requests[0]?.format).toEqual({
      type: 'json_schema',
      schema: SCHEMA,
      name: 'person',
      strict: true,
    });
  });

  it('json_object asks for any JSON; text and absence ask for nothing', async () => {
    const agent = await makeAgent();
    for (const response_format of [{ type: 'json_object' }, { type: 'text' }, undefined]) {
      const res = await post(
        agent,
        '/v1/chat/completions',
        chatBody({ response_format }),
        await agent.ticket(),
      );
      expect(res.status).toBe(200);
    }
    expect(agent.engine.requests.map((r) => r.format)).toEqual([
      { type: 'json' },
      undefined,
      undefined,
    ]);
  });

  it('legacy completions carry it too', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/completions',
      { model: MODEL, prompt: 'x', response_format: { type: 'json_object' } },
      await agent.ticket(),
    );
    expect(res.status).toBe(200);
    expect(agent.engine.requests[0]?.format).toEqual({ type: 'json' });
  });

  it.each([
    [{ type: 'xml' }, 'response_format.type'],
    [{ type: 'json_schema' }, 'response_format.json_schema'],
    [
      { type: 'json_schema', json_schema: { name: 'a b', schema: SCHEMA } },
      'response_format.json_schema.name',
    ],
    [
      { type: 'json_schema', json_schema: { name: 'x', schema: 'object' } },
      'response_format.json_schema.schema',
    ],
  ])('%j is a 400 naming %s, and the engine never runs', async (response_format, param) => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ response_format }),
      await agent.ticket(),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; type: string } };
    expect(body.error).toMatchObject({ param, type: 'invalid_request_error' });
    expect(agent.engine.requests).toHaveLength(0);
  });
});

describe('Ollama format', () => {
  it('"json" and a schema reach the engine from /api/chat and /api/generate', async () => {
    const agent = await makeAgent();
    const chat = await post(
      agent,
      '/api/chat',
      { ...chatBody(), stream: false, format: 'json' },
      await agent.ticket(),
    );
    expect(chat.status).toBe(200);
    const gen = await post(
      agent,
      '/api/generate',
      { model: MODEL, prompt: 'hi', stream: false, format: SCHEMA },
      await agent.ticket(),
    );
    expect(gen.status).toBe(200);
    expect(agent.engine.requests.map((r) => r.format)).toEqual([
      { type: 'json' },
      { type: 'json_schema', schema: SCHEMA },
    ]);
  });

  it("an unknown format is a 400 in Ollama's error shape", async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/api/chat',
      { ...chatBody(), format: 'yaml' },
      await agent.ticket(),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string };
    expect(body.error).toMatch(/^format: format must be "json" or a JSON schema object/);
    expect(agent.engine.requests).toHaveLength(0);
  });
});
