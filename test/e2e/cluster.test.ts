// End to end with real processes: control plane (Node + SQLite) + 2 agents + the real model.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTicketSigner } from '../../control-plane/core/tickets.ts';
import { type Cluster, DEMO_MODEL, startCluster, waitFor } from '../../scripts/cluster.ts';
import { sseData, streamChat } from '../../scripts/sse.ts';
import { freePort } from './support/ports.ts';

let cluster: Cluster;
let dataDir: string;
const question = [{ role: 'user' as const, content: 'Name three colours.' }];

async function mintTicket(claims: { aud: string; model?: string; expiresInMs?: number }) {
  const pem = await readFile(join(dataDir, 'ticket-key.pem'), 'utf8');
  const signer = await createTicketSigner({ issuer: 'titancompute', privateKeyPem: pem });
  const now = Date.now();
  return signer.sign({
    maxTokens: 256,
    sub: 'e2e',
    aud: claims.aud,
    jti: randomUUID(),
    model: claims.model ?? DEMO_MODEL,
    issuedAtMs: now - 120_000,
    expiresAtMs: now + (claims.expiresInMs ?? 60_000),
    // After the agents registered (same host clock): a current registration epoch.
    registration: now,
  });
}

async function agentActiveJobs(url: string): Promise<number> {
  const s = (await (await fetch(`${url}/v1/agent/status`)).json()) as { activeJobs: number };
  return s.activeJobs;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-e2e-'));
  const [cp, a1, a2] = [await freePort(), await freePort(), await freePort()];
  cluster = await startCluster({
    cpPort: cp,
    agentPorts: [a1, a2],
    dataDir,
    joinToken: 'e2e-join-token',
    maxConcurrentJobs: 2,
  });
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('OpenAI and Ollama clients through the 307', () => {
  it('the openai client streams a chat completion given only the control plane as baseURL', async () => {
    const client = new OpenAI({
      baseURL: `${cluster.url}/v1`,
      apiKey: 'not-needed',
      maxRetries: 0,
    });
    const stream = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: question,
      max_tokens: 24,
      stream: true,
    });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text.trim().length).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(finish);
  });

  it('the openai client gets a non-streaming chat completion and a legacy completion', async () => {
    const client = new OpenAI({
      baseURL: `${cluster.url}/v1`,
      apiKey: 'not-needed',
      maxRetries: 0,
    });
    const chat = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: question,
      max_tokens: 16,
    });
    expect(chat.object).toBe('chat.completion');
    expect(chat.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(chat.usage?.completion_tokens).toBeGreaterThan(0);

    const legacy = await client.completions.create({
      model: DEMO_MODEL,
      prompt: 'The capital of France is',
      max_tokens: 8,
    });
    expect(legacy.object).toBe('text_completion');
    expect(legacy.choices[0]?.text.length).toBeGreaterThan(0);
  });

  it('the ollama client streams a chat given the control plane as host', async () => {
    const ollama = new Ollama({ host: cluster.url });
    const stream = await ollama.chat({
      model: DEMO_MODEL,
      messages: question,
      stream: true,
      options: { num_predict: 16 },
    });
    let text = '';
    let done = false;
    for await (const part of stream) {
      text += part.message.content;
      if (part.done) {
        done = true;
        expect(part.eval_count).toBeGreaterThan(0);
      }
    }
    expect(done).toBe(true);
    expect(text.length).toBeGreaterThan(0);
  });
});

describe('zero-proxy streaming', () => {
  it('a started stream completes while the control plane is stopped (SIGSTOP)', async () => {
    const route = await fetch(`${cluster.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: DEMO_MODEL, messages: question, max_tokens: 48, stream: true }),
      redirect: 'manual',
    });
    expect(route.status).toBe(307);
    const location = route.headers.get('location') ?? '';
    const res = await fetch(location, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: DEMO_MODEL, messages: question, max_tokens: 48, stream: true }),
    });
    expect(res.status).toBe(200);
    const cp = cluster.controlPlane.child;
    let stopped = false;
    let tokens = 0;
    let done = false;
    try {
      for await (const data of sseData(res.body!)) {
        if (data === '[DONE]') {
          done = true;
          break;
        }
        if (!stopped) {
          cp.kill('SIGSTOP');
          stopped = true;
        }
        if (
          (JSON.parse(data) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta
            ?.content
        ) {
          tokens++;
        }
      }
    } finally {
      if (stopped) cp.kill('SIGCONT');
    }
    expect(stopped).toBe(true);
    expect(done).toBe(true);
    expect(tokens).toBeGreaterThan(1);
  });
});

describe('tickets and errors', () => {
  const body = JSON.stringify({ model: DEMO_MODEL, messages: question, max_tokens: 4 });
  const post = (url: string, ticket?: string) =>
    fetch(`${url}/v1/chat/completions${ticket ? `?ticket=${encodeURIComponent(ticket)}` : ''}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });

  it('an agent answers 401 to missing, expired, wrong-audience, wrong-model and tampered tickets', async () => {
    const agent = cluster.agentUrls[0]!;
    const valid = await mintTicket({ aud: 'agent-1' });
    const [h, p, s] = valid.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const tampered = [
      h,
      Buffer.from(JSON.stringify({ ...payload, aud: 'agent-1', model: 'x' })).toString('base64url'),
      s,
    ].join('.');
    const cases = {
      missing: undefined,
      expired: await mintTicket({ aud: 'agent-1', expiresInMs: -60_000 }),
      wrongAudience: await mintTicket({ aud: 'agent-2' }),
      wrongModel: await mintTicket({ aud: 'agent-1', model: 'other-model' }),
      tampered,
    };
    for (const [name, ticket] of Object.entries(cases)) {
      const res = await post(agent, ticket);
      expect(res.status, name).toBe(401);
      const err = (await res.json()) as { error: { message: string } };
      expect(err.error.message.length, name).toBeGreaterThan(0);
    }
    // Well signed but never issued: the control plane holds no lease for it, so the agent's
    // admission is refused (leases, docs/adr/0009).
    const unissued = await post(agent, valid);
    expect(unissued.status).toBe(409);
    expect(await unissued.json()).toMatchObject({ error: { code: 'ticket_refused' } });
    // The control: the same request with a ticket the control plane issued is served.
    const route = (await (
      await fetch(`${cluster.url}/v1/route`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: DEMO_MODEL }),
      })
    ).json()) as { agent: { url: string }; ticket: string };
    expect((await post(route.agent.url, route.ticket)).status).toBe(200);
  });

  it('an unknown model gets a 404 JSON error from the control plane, not a redirect', async () => {
    const res = await fetch(`${cluster.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'no-such-model', messages: question }),
      redirect: 'manual',
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'model_not_found' } });
  });

  it('a client that disconnects mid-stream frees the agent slot', async () => {
    const route = (await (
      await fetch(`${cluster.url}/v1/route`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: DEMO_MODEL }),
      })
    ).json()) as { agent: { id: string; url: string }; ticket: string };
    const ac = new AbortController();
    const res = await fetch(`${route.agent.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${route.ticket}` },
      body: JSON.stringify({
        model: DEMO_MODEL,
        messages: question,
        max_tokens: 400,
        stream: true,
      }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    expect(await agentActiveJobs(route.agent.url)).toBe(1);
    ac.abort();
    await waitFor(
      'agent slot freed',
      async () => ((await agentActiveJobs(route.agent.url)) === 0 ? true : undefined),
      5_000,
    );
    await waitFor(
      'control-plane slot released',
      async () => {
        const status = (await (await fetch(`${cluster.url}/v1/status`)).json()) as {
          agents: { id: string; slots: { reserved: number } }[];
        };
        return status.agents.find((a) => a.id === route.agent.id)?.slots.reserved === 0
          ? true
          : undefined;
      },
      10_000,
    );
  });

  it('streams the demo answer through the full path with [DONE]', async () => {
    const r = await streamChat(cluster.url, {
      model: DEMO_MODEL,
      messages: question,
      max_tokens: 32,
    });
    expect(r.sawDone).toBe(true);
    expect(r.completionTokens).toBeGreaterThan(0);
    expect(r.text.length).toBeGreaterThan(0);
  });
});
