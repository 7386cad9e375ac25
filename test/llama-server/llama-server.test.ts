// Against a real llama.cpp `llama-server` (built by scripts/build-llama-cpp.sh) on loopback: a
// control plane and one agent with ENGINE=openai in front of it, driven through the real 307 with
// the openai client. The agent's calls to the control plane pass a recording proxy, so the test
// reads the heartbeats (engine load from llama-server's /metrics) and job reports it sent.

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage, GenerateRequest, ToolDefinition } from '../../agent/engines/engine.ts';
import { OpenAIUpstreamEngine } from '../../agent/engines/openai-upstream.ts';
import { parsePrometheusText } from '../../agent/engines/prometheus.ts';
import type { HeartbeatRequest, JobReport } from '../../protocol/agent-api.ts';
import {
  type Cluster,
  DEMO_MODEL,
  type Proc,
  startCluster,
  stopProcess,
  waitFor,
} from '../../scripts/cluster.ts';
import { freePort } from '../e2e/support/ports.ts';
import { startLlamaServer } from './support.ts';

/** llama-server slots (-np) and the agent's MAX_CONCURRENT_JOBS. */
const SLOTS = 2;
/** Total context (-c): SLOTS sequences of 1024 tokens each. */
const CONTEXT = 2048;

interface AgentCall {
  at: number;
  path: string;
  body: unknown;
}

interface AgentStatus {
  id: string;
  engine: string;
  slots: { reserved: number; max: number };
  breaker: { state: string; consecutiveFailures: number };
  models: { name: string }[];
}

let llamaServer: Proc;
let upstream: string;
let cluster: Cluster;
let dataDir: string;
let proxy: { url: string; close(): Promise<void> };
/** Every POST the agent made to the control plane, in order. */
const calls: AgentCall[] = [];
let client: OpenAI;

/** Forwards the agent's calls to the control plane, keeping each POST body as it passes. */
async function recordingProxy(target: string, into: AgentCall[]) {
  const hopByHop = new Set(['host', 'connection', 'content-length', 'transfer-encoding']);
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (req.method === 'POST' && body.length > 0) {
      into.push({ at: Date.now(), path: req.url ?? '', body: JSON.parse(body.toString()) });
    }
    try {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && !hopByHop.has(name)) headers.set(name, value);
      }
      const answer = await fetch(`${target}${req.url}`, {
        method: req.method ?? 'GET',
        headers,
        ...(body.length > 0 ? { body } : {}),
      });
      res.writeHead(answer.status, {
        'content-type': answer.headers.get('content-type') ?? 'application/json',
      });
      res.end(Buffer.from(await answer.arrayBuffer()));
    } catch (err) {
      res.writeHead(502).end(String(err));
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

const heartbeatsSince = (t: number) =>
  calls
    .filter((c) => c.at >= t && c.path.endsWith('/heartbeat'))
    .map((c) => c.body as HeartbeatRequest);
const jobReportsSince = (t: number) =>
  calls
    .filter((c) => c.at >= t && c.path.includes('/jobs/') && !c.path.endsWith('/admitted'))
    .map((c) => c.body as JobReport);

/** llama-server's own /metrics, parsed (llamacpp:* names). */
async function llamaMetrics(): Promise<Map<string, number>> {
  const res = await fetch(`${upstream}/metrics`);
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

async function agentStatus(): Promise<AgentStatus> {
  const status = (await (await fetch(`${cluster.url}/v1/status`)).json()) as {
    agents: AgentStatus[];
  };
  const agent = status.agents.find((a) => a.id === 'agent-1');
  if (!agent) throw new Error('agent-1 is not in /v1/status');
  return agent;
}

/** Waits until the control plane released every slot (job reports arrived), then returns it. */
async function settled(): Promise<AgentStatus> {
  return waitFor('all slots released', async () => {
    const a = await agentStatus();
    return a.slots.reserved === 0 ? a : undefined;
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-llama-server-'));
  ({ proc: llamaServer, url: upstream } = await startLlamaServer({
    slots: SLOTS,
    context: CONTEXT,
    extraArgs: ['--metrics', '--threads-http', '4'],
  }));

  const cpPort = await freePort();
  proxy = await recordingProxy(`http://127.0.0.1:${cpPort}`, calls);
  cluster = await startCluster({
    cpPort,
    agentPorts: [await freePort()],
    dataDir,
    joinToken: 'llama-server-join-token',
    maxConcurrentJobs: SLOTS,
    // Frequent heartbeats, so one lands while a stream is in flight.
    cpEnv: { HEARTBEAT_INTERVAL: '500ms' },
    agentEnv: { ENGINE: 'openai', UPSTREAM_URL: upstream, CONTROL_PLANE_URL: proxy.url },
  });
  client = new OpenAI({ baseURL: `${cluster.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
});

afterAll(async () => {
  await cluster?.stop();
  await proxy?.close();
  if (llamaServer) await stopProcess(llamaServer);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

// Each test starts with every job of the previous one reported (job reports trail responses).
beforeEach(async () => {
  await settled();
});

const question = [{ role: 'user' as const, content: 'Name three colours.' }];

describe('an ENGINE=openai agent in front of llama-server, through the 307', () => {
  it("registers as an openai engine serving llama-server's model alias", async () => {
    const agent = await agentStatus();
    expect(agent).toMatchObject({ engine: 'openai', slots: { max: SLOTS } });
    expect(agent.models.map((m) => m.name)).toEqual([DEMO_MODEL]);
    expect((await client.models.list()).data.map((m) => m.id)).toContain(DEMO_MODEL);
  });

  it('streams a chat completion with the openai client: text, finish_reason, usage', async () => {
    const before = (await llamaMetrics()).get('llamacpp:tokens_predicted_total') ?? 0;
    const stream = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: question,
      max_tokens: 24,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let pieces = 0;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta?.content ?? '';
      if (content) pieces++;
      text += content;
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text.trim().length).toBeGreaterThan(0);
    expect(pieces).toBeGreaterThan(1);
    expect(['stop', 'length']).toContain(finish);
    expect(usage?.prompt_tokens).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeLessThanOrEqual(24);
    if (finish === 'length') expect(usage?.completion_tokens).toBe(24);
    // The tokens were llama-server's: its own counter grew by exactly the usage we were told.
    await waitFor('llama-server counted the tokens', async () =>
      (await llamaMetrics()).get('llamacpp:tokens_predicted_total') ===
      before + (usage?.completion_tokens ?? Number.NaN)
        ? true
        : undefined,
    );
    expect((await settled()).breaker.consecutiveFailures).toBe(0);
  });

  it('answers a non-streamed chat completion and a legacy completion', async () => {
    const chat = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: question,
      max_tokens: 16,
    });
    expect(chat.object).toBe('chat.completion');
    expect(chat.choices[0]?.message.content?.trim().length).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(chat.choices[0]?.finish_reason);
    expect(chat.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(chat.usage?.completion_tokens).toBeGreaterThan(0);

    const legacy = await client.completions.create({
      model: DEMO_MODEL,
      prompt: 'The capital of France is',
      max_tokens: 8,
    });
    expect(legacy.object).toBe('text_completion');
    expect(legacy.choices[0]?.text.length).toBeGreaterThan(0);
    expect(legacy.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("passes response_format json_schema through to llama-server's grammar", async () => {
    const schema = {
      type: 'object',
      properties: { city: { type: 'string' }, coastal: { type: 'boolean' } },
      required: ['city', 'coastal'],
      additionalProperties: false,
    };
    const chat = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: [{ role: 'user', content: 'Describe a city as JSON.' }],
      max_tokens: 100,
      temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 'city', schema, strict: true } },
    });
    const content = chat.choices[0]?.message.content ?? '';
    const parsed = JSON.parse(content) as Record<string, unknown>;
    expect(typeof parsed.city, content).toBe('string');
    expect(typeof parsed.coastal, content).toBe('boolean');
  });

  it('honours max_tokens and stop sequences', async () => {
    const limited = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: [{ role: 'user', content: 'Tell me a long story about the sea.' }],
      max_tokens: 5,
      temperature: 0,
    });
    expect(limited.choices[0]?.finish_reason).toBe('length');
    expect(limited.usage?.completion_tokens).toBe(5);

    const counting = { model: DEMO_MODEL, prompt: '1, 2, 3, 4, 5,', temperature: 0 };
    const free = await client.completions.create({ ...counting, max_tokens: 16 });
    const freeText = free.choices[0]?.text ?? '';
    // Greedy, the model keeps counting: the stop below has something to cut.
    expect(freeText).toContain(' 8');
    const stopped = await client.completions.create({ ...counting, max_tokens: 16, stop: [' 8'] });
    const stoppedText = stopped.choices[0]?.text ?? '';
    expect(stopped.choices[0]?.finish_reason).toBe('stop');
    expect(stoppedText).not.toContain('8');
    expect(stoppedText.length).toBeLessThanOrEqual(freeText.indexOf(' 8'));
    expect(stopped.usage?.completion_tokens).toBeLessThan(free.usage?.completion_tokens ?? 0);
  });

  it("passes logprobs through: llama-server's, in OpenAI's shapes, whole and streamed", async () => {
    const chat = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: question,
      max_tokens: 6,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    });
    const content = chat.choices[0]?.logprobs?.content ?? [];
    expect(content.length).toBeGreaterThan(0);
    expect(content.map((t) => t.token).join('')).toBe(chat.choices[0]?.message.content);
    for (const t of content) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.top_logprobs).toHaveLength(2);
    }

    const stream = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: question,
      max_tokens: 6,
      temperature: 0,
      logprobs: true,
      stream: true,
    });
    let scored = 0;
    for await (const chunk of stream) {
      const delta = chunk.choices[0];
      if (!delta?.delta.content) continue;
      const tokens = delta.logprobs?.content ?? [];
      expect(tokens.map((t) => t.token).join('')).toBe(delta.delta.content);
      scored += tokens.length;
    }
    expect(scored).toBe(content.length);

    const legacy = await client.completions.create({
      model: DEMO_MODEL,
      prompt: 'The capital of France is',
      max_tokens: 4,
      temperature: 0,
      logprobs: 1,
    });
    const lp = legacy.choices[0]?.logprobs;
    expect(lp?.tokens?.join('')).toBe(legacy.choices[0]?.text);
    expect(lp?.token_logprobs).toHaveLength(lp?.tokens?.length ?? -1);
  });

  it('a seed reproduces a sampled answer', async () => {
    const sampled = () =>
      client.chat.completions.create({
        model: DEMO_MODEL,
        messages: [{ role: 'user', content: 'Tell me a story.' }],
        max_tokens: 10,
        temperature: 1,
        seed: 99,
      });
    const [a, b] = [await sampled(), await sampled()];
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);
  });

  it("relays llama-server's refusal as an OpenAI 400, reported as rejected, no breaker failure", async () => {
    // Longer than a slot's context (CONTEXT / SLOTS tokens): llama-server itself refuses it.
    const tooLong = [{ role: 'user' as const, content: 'word '.repeat(CONTEXT) }];
    for (const stream of [false, true]) {
      const since = Date.now();
      const err = await client.chat.completions
        .create({ model: DEMO_MODEL, messages: tooLong, max_tokens: 8, stream })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err).toMatchObject({ status: 400, type: 'invalid_request_error' });
      expect((err as InstanceType<typeof OpenAI.APIError>).message).toMatch(/context size/);
      const agent = await settled();
      expect(jobReportsSince(since).map((r) => r.outcome)).toEqual(['rejected']);
      expect(agent.breaker).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    }
  });

  it("reports llama-server's /metrics load in heartbeats; a client that leaves frees the slot", async () => {
    // Idle: the load is there (parsed from /metrics) and says nothing runs.
    const idleFrom = Date.now();
    const idle = await waitFor('a heartbeat with engine load', async () =>
      heartbeatsSince(idleFrom).find((h) => h.engineLoad),
    );
    expect(idle.engineLoad).toEqual({ running: 0, waiting: 0 });

    const before = (await llamaMetrics()).get('llamacpp:tokens_predicted_total') ?? 0;
    const leave = new AbortController();
    const maxTokens = 900;
    const stream = await client.chat.completions.create(
      {
        model: DEMO_MODEL,
        messages: [{ role: 'user', content: 'Count from 1 to 1000, separated by commas.' }],
        max_tokens: maxTokens,
        temperature: 0,
        stream: true,
      },
      { signal: leave.signal },
    );
    const started = Date.now();
    let pieces = 0;
    let finish: string | null = null;
    const reading = (async () => {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content) pieces++;
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
    })().catch((err: unknown) => err);

    // In flight: a heartbeat taken after the stream began shows llama-server decoding it.
    const busy = await waitFor('a heartbeat with llama-server busy', async () =>
      heartbeatsSince(started).find((h) => (h.engineLoad?.running ?? 0) >= 1),
    );
    expect(busy.engineLoad).toMatchObject({ running: 1, waiting: 0 });
    expect(busy.activeJobs).toBe(1);
    expect(finish).toBeNull();
    expect(pieces).toBeGreaterThan(0);
    expect((await llamaMetrics()).get('llamacpp:requests_processing')).toBe(1);

    // The client leaves mid-stream: llama-server stops decoding it well before max_tokens.
    const reportsFrom = Date.now();
    leave.abort();
    // The openai client ends an aborted stream quietly: no error, and no finish_reason.
    expect(await reading).toBeUndefined();
    expect(finish).toBeNull();
    await waitFor(
      'llama-server slot freed',
      async () =>
        (await llamaMetrics()).get('llamacpp:requests_processing') === 0 ? true : undefined,
      10_000,
    );
    const decoded = ((await llamaMetrics()).get('llamacpp:tokens_predicted_total') ?? 0) - before;
    expect(decoded).toBeGreaterThan(0);
    expect(decoded).toBeLessThan(maxTokens);

    const agent = await settled();
    expect(jobReportsSince(reportsFrom).map((r) => r.outcome)).toEqual(['cancelled']);
    expect(agent.breaker).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    const after = Date.now();
    const calm = await waitFor('a heartbeat after the slot was freed', async () =>
      heartbeatsSince(after).find((h) => h.engineLoad),
    );
    expect(calm).toMatchObject({ activeJobs: 0, engineLoad: { running: 0, waiting: 0 } });

    // Both slots serve again, side by side.
    const again = await Promise.all(
      [1, 2].map(() =>
        client.chat.completions.create({ model: DEMO_MODEL, messages: question, max_tokens: 4 }),
      ),
    );
    for (const r of again) expect(r.usage?.completion_tokens).toBeGreaterThan(0);
  });
});

describe('tool calling through the OpenAI upstream engine, against llama-server', () => {
  // This llama-server build renders no tools with the demo model's own template (ChatML without a
  // tools section) and, even with the template below, does not force a call from the 135M model:
  // what is checked is that tools, calls and tool results reach llama-server in OpenAI's shape and
  // are rendered by its template (the relay of call deltas is tests/unit/agent/engines/tool-wire).
  const TEMPLATE = fileURLToPath(new URL('./fixtures/chatml-tools.jinja', import.meta.url));
  const tool: ToolDefinition = {
    name: 'get_weather',
    description: 'The current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  };
  const ask: ChatMessage[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
  let server: Proc | undefined;
  let engine: OpenAIUpstreamEngine;

  beforeAll(async () => {
    const started = await startLlamaServer({
      slots: 1,
      context: 1024,
      extraArgs: ['--chat-template-file', TEMPLATE],
    });
    server = started.proc;
    engine = new OpenAIUpstreamEngine({ baseUrl: started.url });
  }, 180_000);

  afterAll(async () => {
    if (server) await stopProcess(server);
  });

  const prompt = async (req: Omit<GenerateRequest, 'model' | 'prompt'>) => {
    const full = { model: DEMO_MODEL, maxTokens: 4, temperature: 0, ...req } as GenerateRequest;
    for await (const c of engine.generate(full, { signal: AbortSignal.timeout(120_000) })) {
      if (c.type === 'done') return c.promptTokens;
    }
    throw new Error('no done chunk');
  };

  it('tools, assistant tool_calls and tool messages reach llama-server and its template', async () => {
    const plain = await prompt({ messages: ask });
    const withTools = await prompt({ messages: ask, tools: [tool] });
    // The tool's JSON is in the prompt: many more tokens than its name alone.
    expect(withTools).toBeGreaterThan(plain + 40);
    const call = { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' };
    const roundTrip = await prompt({
      messages: [
        ...ask,
        { role: 'assistant', content: '', toolCalls: [call] },
        { role: 'tool', toolCallId: 'call_1', content: '{"temperature": 21}' },
      ],
      tools: [tool],
      toolChoice: 'none',
    });
    // The call and its result are rendered too (<tool_call> and <tool_response> turns).
    expect(roundTrip).toBeGreaterThan(withTools + 15);
  });
});
