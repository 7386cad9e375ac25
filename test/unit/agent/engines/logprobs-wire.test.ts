// Log probabilities on the wire to OpenAI-compatible upstreams and Ollama (local servers speaking
// their documented formats): asked for in each one's names, read back as token chunks' logprobs.
import { describe, expect, it } from 'vitest';
import type {
  GenerateChunk,
  GenerateRequest,
  InferenceEngine,
} from '../../../../agent/engines/engine.ts';
import { OllamaEngine } from '../../../../agent/engines/ollama.ts';
import { OpenAIUpstreamEngine } from '../../../../agent/engines/openai-upstream.ts';
import { serveRoutes } from './wire-server.ts';

async function collect(engine: InferenceEngine, req: GenerateRequest): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const c of engine.generate(req, { signal: new AbortController().signal })) out.push(c);
  return out;
}

const HI = { token: 'Hi', logprob: -0.25, bytes: [72, 105] };
const HO = { token: 'Ho', logprob: -2, bytes: [72, 111] };
const ENTRY = { ...HI, top: [HI, HO] };
const sse = (chunk: unknown) => `data: ${JSON.stringify(chunk)}\n\n`;

/** An upstream answering `route` with these SSE events, then [DONE]; `seen.body`: what it got. */
async function sseUpstream(route: string, events: unknown[]) {
  const seen: { body: Record<string, unknown> } = { body: {} };
  const url = await serveRoutes({
    [route]: (body, res) => {
      seen.body = body;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const event of events) res.write(sse(event));
      res.end('data: [DONE]\n\n');
    },
  });
  return { url, seen };
}

describe('OpenAI-compatible upstream', () => {
  it('chat asks logprobs/top_logprobs and relays each delta’s logprobs.content', async () => {
    const content = [{ ...HI, top_logprobs: [HI, HO] }];
    const { url, seen } = await sseUpstream('POST /v1/chat/completions', [
      { choices: [{ delta: { content: 'Hi' }, logprobs: { content } }] },
      { choices: [{ delta: {}, finish_reason: 'stop' }] },
    ]);
    const chunks = await collect(new OpenAIUpstreamEngine({ baseUrl: url }), {
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      logprobs: 2,
    });
    expect(seen.body).toMatchObject({ logprobs: true, top_logprobs: 2 });
    expect(chunks[0]).toEqual({ type: 'token', text: 'Hi', logprobs: [ENTRY] });
  });

  it('completions ask logprobs: n and read the legacy lists', async () => {
    const logprobs = {
      tokens: ['Hi'],
      token_logprobs: [-0.25],
      top_logprobs: [{ Hi: -0.25, Ho: -2 }],
      text_offset: [0],
    };
    const { url, seen } = await sseUpstream('POST /v1/completions', [
      { choices: [{ text: 'Hi', logprobs }] },
      { choices: [{ text: '', finish_reason: 'stop' }] },
    ]);
    const chunks = await collect(new OpenAIUpstreamEngine({ baseUrl: url }), {
      model: 'm',
      prompt: 'say',
      logprobs: 2,
    });
    expect(seen.body.logprobs).toBe(2);
    expect(seen.body.top_logprobs).toBeUndefined();
    expect(chunks[0]).toEqual({ type: 'token', text: 'Hi', logprobs: [ENTRY] });
  });

  it('logprobs with no alternatives asks for one (llama-server sends none for 0) and drops it', async () => {
    const content = [{ ...HI, top_logprobs: [HI] }];
    const { url, seen } = await sseUpstream('POST /v1/chat/completions', [
      { choices: [{ delta: { content: 'Hi' }, logprobs: { content } }] },
      { choices: [{ delta: {}, finish_reason: 'stop' }] },
    ]);
    const chunks = await collect(new OpenAIUpstreamEngine({ baseUrl: url }), {
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      logprobs: 0,
    });
    expect(seen.body).toMatchObject({ logprobs: true, top_logprobs: 1 });
    expect(chunks[0]).toEqual({ type: 'token', text: 'Hi', logprobs: [{ ...HI, top: [] }] });
  });

  it('not asked: nothing is sent and nothing relayed', async () => {
    const { url, seen } = await sseUpstream('POST /v1/chat/completions', [
      { choices: [{ delta: { content: 'Hi' }, logprobs: { content: [HI] } }] },
      { choices: [{ delta: {}, finish_reason: 'stop' }] },
    ]);
    const chunks = await collect(new OpenAIUpstreamEngine({ baseUrl: url }), {
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(seen.body.logprobs).toBeUndefined();
    expect(chunks[0]).toEqual({ type: 'token', text: 'Hi' });
  });
});

describe('an upstream that ignores logprobs', () => {
  it('is an error at the end of the stream, never an answer without them', async () => {
    const { url } = await sseUpstream('POST /v1/chat/completions', [
      { choices: [{ delta: { content: 'Hi' } }] },
      { choices: [{ delta: {}, finish_reason: 'stop' }] },
    ]);
    const req: GenerateRequest = {
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      logprobs: 0,
    };
    await expect(collect(new OpenAIUpstreamEngine({ baseUrl: url }), req)).rejects.toMatchObject({
      code: 'engine_failure',
      message: expect.stringContaining('logprobs'),
    });
  });
});

describe('Ollama', () => {
  it('asks logprobs/top_logprobs and reads each line’s logprobs', async () => {
    let seen: Record<string, unknown> = {};
    const host = await serveRoutes({
      'POST /api/generate': (body, res) => {
        seen = body;
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        const line = (o: object) =>
          `${JSON.stringify({ model: 'm', created_at: '2026-01-01T00:00:00Z', ...o })}\n`;
        // Ollama leaves bytes out when asked without them; they are the token's UTF-8.
        const logprobs = [{ token: 'Hi', logprob: -0.25, top_logprobs: [HI, HO] }];
        res.write(line({ response: 'Hi', logprobs, done: false }));
        res.end(line({ response: '', done: true, done_reason: 'stop', eval_count: 1 }));
      },
    });
    const chunks = await collect(new OllamaEngine({ host }), {
      model: 'm',
      prompt: 'say',
      logprobs: 2,
    });
    expect(seen).toMatchObject({ logprobs: true, top_logprobs: 2 });
    expect(chunks[0]).toEqual({ type: 'token', text: 'Hi', logprobs: [ENTRY] });
  });
});
