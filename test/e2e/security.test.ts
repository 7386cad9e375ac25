// Security end to end with real processes (keys mode): forged and misused tickets against real
// agents, rogue agents, and API keys on the control plane.
import { createPublicKey, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  importPKCS8,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyAlgorithm, publishedJwk, type TicketAlg } from '../../control-plane/core/tickets.ts';
import { TICKET_TYPE } from '../../protocol/agent-api.ts';
import { type Cluster, DEMO_MODEL, startCluster } from '../../scripts/cluster.ts';
import { freePort } from './support/ports.ts';

const ADMIN_KEY = 'e2e-admin-key';
const JOIN = 'e2e-security-join';
let cluster: Cluster;
let dataDir: string;
let keyPem: string;
/** The key file's own algorithm (ES256 for the key file a first start creates). */
let alg: TicketAlg;
let kid: string;

const json = { 'content-type': 'application/json' };
const auth = (secret: string) => ({ ...json, authorization: `Bearer ${secret}` });
const chat = (extra: Record<string, unknown> = {}) => ({
  model: DEMO_MODEL,
  messages: [{ role: 'user', content: 'Say hi.' }],
  max_tokens: 4,
  ...extra,
});

/** A ticket as the control plane would sign it, with any claim or header overridden. */
async function mint(
  o: { claims?: JWTPayload; header?: Record<string, unknown>; key?: CryptoKey } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: 'titancompute',
    sub: 'e2e',
    aud: 'agent-1',
    jti: randomUUID(),
    model: DEMO_MODEL,
    max_tokens: 16,
    // The agents registered before this ticket was minted (same host clock).
    reg: Date.now(),
    iat: now,
    nbf: now,
    exp: now + 60,
    ...o.claims,
  })
    .setProtectedHeader({ alg, kid, typ: TICKET_TYPE, ...o.header })
    .sign(o.key ?? (await importPKCS8(keyPem, alg)));
}

function agentPost(agent: number, body: unknown, ticket?: string) {
  const url = new URL('/v1/chat/completions', cluster.agentUrls[agent]);
  if (ticket) url.searchParams.set('ticket', ticket);
  return fetch(url, { method: 'POST', headers: json, body: JSON.stringify(body) });
}

function cpPost(path: string, body: unknown, headers: Record<string, string> = json) {
  return fetch(`${cluster.url}${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    redirect: 'manual',
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-sec-'));
  const [cp, a1, a2] = [await freePort(), await freePort(), await freePort()];
  cluster = await startCluster({
    cpPort: cp,
    agentPorts: [a1, a2],
    dataDir,
    joinToken: JOIN,
    maxConcurrentJobs: 2,
    cpEnv: { AUTH_MODE: 'keys', ADMIN_KEY },
  });
  keyPem = await readFile(join(dataDir, 'ticket-key.pem'), 'utf8');
  alg = await keyAlgorithm(keyPem);
  kid = (await publishedJwk(keyPem, alg)).kid as string;
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('tickets against a real agent', () => {
  it('refuses every forged or misused ticket with 401 and a precise code', async () => {
    const attacker = await generateKeyPair(alg, { extractable: true });
    const valid = await mint();
    const [h, p, s] = valid.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    // The classic confusion attack: HMAC keyed with the (public) signing key in PEM form.
    const publicPem = createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString();
    const flip = (sig: string) => (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
    const cases: Record<string, [string | undefined, string]> = {
      missing: [undefined, 'ticket_missing'],
      algNone: [`${b64({ alg: 'none', typ: TICKET_TYPE })}.${p}.`, 'ticket_invalid'],
      hs256WithPublicKey: [
        await new SignJWT(payload)
          .setProtectedHeader({ alg: 'HS256', kid, typ: TICKET_TYPE })
          .sign(new TextEncoder().encode(publicPem)),
        'ticket_invalid',
      ],
      unknownKid: [
        await mint({ header: { kid: 'not-a-key' }, key: attacker.privateKey }),
        'ticket_unknown_key',
      ],
      embeddedJwk: [
        await mint({
          header: { jwk: await exportJWK(attacker.publicKey), jku: 'http://127.0.0.1:1/jwks' },
          key: attacker.privateKey,
        }),
        'ticket_invalid',
      ],
      wrongAudience: [await mint({ claims: { aud: 'agent-9' } }), 'ticket_wrong_audience'],
      wrongIssuer: [await mint({ claims: { iss: 'evil' } }), 'ticket_wrong_issuer'],
      wrongTyp: [await mint({ header: { typ: 'JWT' } }), 'ticket_wrong_type'],
      expired: [
        await mint({ claims: { exp: Math.floor(Date.now() / 1000) - 120 } }),
        'ticket_expired',
      ],
      notYetValid: [
        await mint({ claims: { nbf: Math.floor(Date.now() / 1000) + 120 } }),
        'ticket_not_yet_valid',
      ],
      tamperedPayload: [`${h}.${b64({ ...payload, max_tokens: 100_000 })}.${s}`, 'ticket_invalid'],
      tamperedSignature: [`${h}.${p}.${flip(s)}`, 'ticket_invalid'],
      forModelX: [await mint({ claims: { model: 'other-model' } }), 'ticket_model_mismatch'],
      maxTokensAbove: [await mint({ claims: { max_tokens: 3 } }), 'ticket_max_tokens_exceeded'],
    };
    for (const [name, [ticket, code]] of Object.entries(cases)) {
      const res = await agentPost(0, chat(), ticket);
      expect(res.status, name).toBe(401);
      expect(await res.json(), name).toMatchObject({
        error: { code, type: 'authentication_error' },
      });
    }
    // Well signed but never issued: the control plane holds no lease for it, so the agent's
    // admission is refused (leases, docs/adr/0009).
    const unissued = await agentPost(0, chat(), valid);
    expect(unissued.status).toBe(409);
    expect(await unissued.json()).toMatchObject({ error: { code: 'ticket_refused' } });
    // The control: the same request with a ticket the control plane issued is served.
    const route = await cpPost('/v1/route', { model: DEMO_MODEL }, auth(cluster.apiKey ?? ''));
    const issued = (await route.json()) as { agent: { url: string }; ticket: string };
    const agent = cluster.agentUrls.indexOf(new URL(issued.agent.url).origin);
    expect((await agentPost(agent, chat(), issued.ticket)).status).toBe(200);
  });

  it('a URL ticket from the control plane works once, on its own agent only', async () => {
    const res = await cpPost('/v1/chat/completions', chat(), auth(cluster.apiKey ?? ''));
    expect(res.status).toBe(307);
    const location = new URL(res.headers.get('location') ?? '');
    const ticket = location.searchParams.get('ticket') ?? '';
    const mine = cluster.agentUrls.indexOf(location.origin);
    const other = 1 - mine;
    const elsewhere = await agentPost(other, chat(), ticket);
    expect(elsewhere.status).toBe(401);
    expect(await elsewhere.json()).toMatchObject({ error: { code: 'ticket_wrong_audience' } });
    expect((await agentPost(mine, chat(), ticket)).status).toBe(200);
    const again = await agentPost(mine, chat(), ticket);
    expect(again.status).toBe(401);
    expect(await again.json()).toMatchObject({ error: { code: 'ticket_replayed' } });
  });
});

describe('rogue agents', () => {
  it('cannot register without the join token, heartbeat a stolen id, or take it over', async () => {
    const reg = {
      id: 'rogue',
      url: 'http://127.0.0.1:1',
      maxConcurrentJobs: 8,
      models: [{ name: DEMO_MODEL, loaded: true }],
      stats: {
        cpuCores: 64,
        cpuLoadPercent: 0,
        memoryTotalBytes: 1e12,
        memoryFreeBytes: 1e12,
        gpus: [],
      },
      engine: 'fake',
      version: '0',
    };
    expect((await cpPost('/v1/agents/register', reg)).status).toBe(401);
    expect((await cpPost('/v1/agents/register', reg, auth('guess'))).status).toBe(401);
    const hb = { activeJobs: 0, runningJobs: [], models: reg.models, stats: reg.stats };
    expect((await cpPost('/v1/agents/agent-1/heartbeat', hb)).status).toBe(401);
    expect((await cpPost('/v1/agents/agent-1/heartbeat', hb, auth(JOIN))).status).toBe(401);
    const takeover = await cpPost('/v1/agents/register', { ...reg, id: 'agent-1' }, auth(JOIN));
    expect(takeover.status).toBe(409);
    // Neither receives a request: every redirect goes to the two real agents.
    for (let i = 0; i < 3; i++) {
      const res = await cpPost('/v1/route', { model: DEMO_MODEL }, auth(cluster.apiKey ?? ''));
      expect(res.status).toBe(200);
      const { agent, ticket } = (await res.json()) as { agent: { url: string }; ticket: string };
      expect(cluster.agentUrls).toContain(agent.url);
      // Hand the slot back: the agent refuses the mismatched model and reports it rejected.
      const refused = await agentPost(
        cluster.agentUrls.indexOf(agent.url),
        chat({ model: 'x' }),
        ticket,
      );
      expect(refused.status).toBe(401);
    }
    expect(cluster.controlPlane.output.join('\n')).toContain('agent call refused');
  });
});

describe('API keys on a real control plane', () => {
  it('401 without a key and with a revoked key, 429 over the rate limit', async () => {
    expect((await cpPost('/v1/chat/completions', chat())).status).toBe(401);
    const admin = (path: string, init: RequestInit) =>
      fetch(`${cluster.url}/admin${path}`, { ...init, headers: auth(ADMIN_KEY) });
    const created = (await (
      await admin('/api-keys', {
        method: 'POST',
        body: JSON.stringify({ name: 'e2e', rateLimitPerMinute: 1 }),
      })
    ).json()) as { id: string; key: string };
    const models = await fetch(`${cluster.url}/v1/models`, { headers: auth(created.key) });
    expect(models.status).toBe(200);
    const first = await cpPost('/v1/route', { model: DEMO_MODEL }, auth(created.key));
    expect(first.status).toBe(200);
    const limited = await cpPost('/v1/route', { model: DEMO_MODEL }, auth(created.key));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBeTruthy();
    expect((await admin(`/api-keys/${created.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await cpPost('/v1/route', { model: DEMO_MODEL }, auth(created.key))).status).toBe(401);
  });

  it('the openai client with an API key follows the 307 and streams', async () => {
    const openai = new OpenAI({ baseURL: `${cluster.url}/v1`, apiKey: cluster.apiKey ?? '' });
    const stream = await openai.chat.completions.create({
      model: DEMO_MODEL,
      messages: [{ role: 'user', content: 'Say hi.' }],
      max_tokens: 2,
      stream: true,
    });
    let finish: string | null | undefined;
    for await (const chunk of stream) finish = chunk.choices[0]?.finish_reason ?? finish;
    expect(finish === 'stop' || finish === 'length').toBe(true);
  });

  it('ollama-js sends the key with `headers` and streams through the 307', async () => {
    const headers = { Authorization: `Bearer ${cluster.apiKey}` };
    const ollama = new Ollama({ host: cluster.url, headers });
    let done = false;
    const parts = await ollama.chat({
      model: DEMO_MODEL,
      messages: [{ role: 'user', content: 'Say hi.' }],
      options: { num_predict: 2 },
      stream: true,
    });
    for await (const part of parts) done ||= part.done;
    expect(done).toBe(true);
    const anonymous = new Ollama({ host: cluster.url });
    await expect(anonymous.list()).rejects.toThrow(/API key/);
  });
});

/** A listener that registers as an agent with the join token and records what reaches it. */
async function rogueListener(): Promise<{
  url: string;
  seen: IncomingHttpHeaders[];
  server: Server;
}> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    res.writeHead(200, json).end('{}');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

describe('attacks of the second review (issue 13)', () => {
  it('an API key in x-api-key never follows the 307 to an agent', async () => {
    const rogue = await rogueListener();
    try {
      const stats = { cpuCores: 4, cpuLoadPercent: 0, memoryTotalBytes: 8e9, memoryFreeBytes: 8e9 };
      const reg = {
        id: 'key-collector',
        url: rogue.url,
        maxConcurrentJobs: 4,
        models: [{ name: 'bait-model', loaded: true }],
        stats: { ...stats, gpus: [] },
        engine: 'fake',
        version: '0',
      };
      expect((await cpPost('/v1/agents/register', reg, auth(JOIN))).status).toBe(200);
      const key = cluster.apiKey ?? '';
      for (const path of ['/v1/chat/completions', '/api/chat']) {
        // fetch follows the redirect, as the OpenAI and Ollama SDKs and `curl -L` do.
        const res = await fetch(`${cluster.url}${path}`, {
          method: 'POST',
          headers: { ...json, 'x-api-key': key },
          body: JSON.stringify(chat({ model: 'bait-model' })),
        });
        expect(res.status, path).toBe(400);
        expect(JSON.stringify(await res.json()), path).toContain('Authorization: Bearer');
      }
      // With Authorization, the redirect is followed and the key stays behind.
      const ok = await fetch(`${cluster.url}/v1/chat/completions`, {
        method: 'POST',
        headers: auth(key),
        body: JSON.stringify(chat({ model: 'bait-model' })),
      });
      expect(ok.status).toBe(200);
      expect(rogue.seen.length).toBe(1);
      expect(JSON.stringify(rogue.seen)).not.toContain(key);
    } finally {
      rogue.server.close();
    }
  });
});
