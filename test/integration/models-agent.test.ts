// An agent started with --catalog over real sockets: advertises base name + variants, pulls through /admin, loads on demand.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/log.ts';
import type { PullEvent } from '../../agent/models/admin.ts';
import { sha256File } from '../../agent/models/download.ts';
import { type RunningAgent, startAgent } from '../../agent/server.ts';
import type { AgentModel } from '../../protocol/agent-api.ts';
import { fixedStats, testAgentConfig } from '../unit/agent/agent-config.ts';
import {
  type FakeControlPlane,
  type ReceivedCall,
  startFakeControlPlane,
} from '../unit/agent/fake-control-plane.ts';
import {
  makeSigningKey,
  parseSSE,
  type SigningKey,
  signTicket,
  until,
} from '../unit/agent/helpers.ts';
import { type FileServer, startFileServer } from '../unit/agent/models/file-server.ts';

const BUNDLED = resolve(import.meta.dirname, '../../.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf');
let dir: string;
let cp: FakeControlPlane;
let mirror: FileServer;
let agent: RunningAgent;
let key: SigningKey;

/** The models a register or heartbeat call carried. */
const modelsIn = (call: ReceivedCall | undefined) =>
  (call?.body.models as AgentModel[] | undefined) ?? [];
const lastModels = () => modelsIn(cp.received.filter((b) => b.body.models).at(-1));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'titan-agent-models-'));
  key = await makeSigningKey('m');
  cp = await startFakeControlPlane({
    jwks: { keys: [key.publicJwk] },
    agentId: 'agent-m',
    heartbeatIntervalMs: 100,
  });
  mirror = await startFileServer({
    '/org/mirror-GGUF/resolve/main/mirror-Q4_1.gguf': { path: BUNDLED },
  });
  const catalog = join(dir, 'catalog.json');
  writeFileSync(
    catalog,
    JSON.stringify({
      models: {
        'smollm2:135m-instruct': {
          aliases: ['smollm2:135m'],
          variants: { Q4_1: { file: 'SmolLM2-135M-Instruct.Q4_1.gguf', path: BUNDLED } },
        },
        'mirror:135m': {
          repo: 'org/mirror-GGUF',
          variants: { Q4_1: { file: 'mirror-Q4_1.gguf', sha256: await sha256File(BUNDLED) } },
        },
      },
    }),
  );
  const config = testAgentConfig({
    agentId: 'agent-m',
    controlPlaneUrl: cp.url,
    contextSize: 256,
    threads: 2,
    drainTimeoutMs: 5000,
    // The embedded engine's loader, even where this host has built llama-server (ADR 0019).
    engine: 'llama-cpp',
    catalog,
    modelsDir: join(dir, 'models'),
    modelBaseUrl: mirror.url,
  });
  const stats = fixedStats;

  agent = await startAgent(config, { stats, log: silentLogger });
  await until(() => cp.received.some((b) => b.path === '/v1/agents/register'), 10_000);
});

afterAll(async () => {
  await agent?.shutdown('test');
  await mirror?.close();
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('agent with a model catalog', () => {
  it('registers the base name, its alias and each variant on disk, with estimated memory', () => {
    const register = cp.received.find((b) => b.path === '/v1/agents/register');
    const models = modelsIn(register);
    expect(models.map((m) => m.name)).toEqual([
      'smollm2:135m-instruct',
      'smollm2:135m',
      'smollm2:135m-instruct-q4_1',
    ]);
    expect(models.every((m) => m.loaded === false && (m.memoryBytes ?? 0) > 90 * 2 ** 20)).toBe(
      true,
    );
  });

  it('pulls a variant through /admin from a loopback mirror, then advertises it', async () => {
    const res = await fetch(`${agent.url}/admin/models/pull`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mirror:135m-q4_1' }),
    });
    expect(res.status).toBe(200);
    const events = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PullEvent);
    expect(events.at(-1)).toMatchObject({ status: 'success', tag: 'mirror:135m-q4_1' });
    expect(events.filter((e) => e.status === 'downloading').length).toBeGreaterThan(2);
    await until(() => lastModels().some((m) => m.name === 'mirror:135m-q4_1'), 10_000);
  });

  it('loads a model on the first request for it and heartbeats it as loaded with its measured memory', async () => {
    const before = lastModels().find((m) => m.name === 'smollm2:135m');
    const ticket = await signTicket(key, { aud: 'agent-m', model: 'smollm2:135m' });
    const res = await fetch(`${agent.url}/v1/chat/completions?ticket=${ticket}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'smollm2:135m',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        max_tokens: 4,
      }),
    });
    expect(res.status).toBe(200);
    expect(parseSSE(await res.text()).at(-1)).toBe('[DONE]');
    await until(() => lastModels().some((m) => m.name === 'smollm2:135m' && m.loaded), 10_000);
    const after = lastModels()
      .filter((m) => m.loaded)
      .map((m) => m.name);
    expect(after).toEqual(['smollm2:135m-instruct', 'smollm2:135m', 'smollm2:135m-instruct-q4_1']);
    const loaded = lastModels().find((m) => m.name === 'smollm2:135m');
    expect(loaded?.memoryBytes).not.toBe(before?.memoryBytes); // the measurement replaced the estimate
  });
});
