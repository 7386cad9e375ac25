// The same agent against the Workers build: `wrangler dev` (real workerd + local D1) as control plane.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  DEMO_MODEL,
  DEMO_MODEL_PATH,
  type Proc,
  ROOT,
  startProcess,
  stopProcess,
  waitFor,
} from '../../scripts/cluster.ts';
import { streamChat } from '../../scripts/sse.ts';
import { freePort } from './support/ports.ts';

const WRANGLER = 'node_modules/wrangler/bin/wrangler.js';
const JOIN = 'wrangler-e2e-token';
const wranglerEnv = { WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' };
let persist: string;
let worker: Proc | undefined;
let agent: Proc | undefined;
let cpUrl: string;

beforeAll(async () => {
  persist = await mkdtemp(join(tmpdir(), 'titan-d1-'));
  await promisify(execFile)(
    process.execPath,
    [WRANGLER, 'd1', 'migrations', 'apply', 'titancompute', '--local', '--persist-to', persist],
    { cwd: ROOT, env: { ...process.env, ...wranglerEnv } },
  );
  const port = await freePort();
  cpUrl = `http://127.0.0.1:${port}`;
  worker = startProcess(
    'wrangler-dev',
    WRANGLER,
    [
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--persist-to',
      persist,
      '--var',
      `JOIN_TOKEN:${JOIN}`,
      '--var',
      'AUTH_MODE:development',
      '--var',
      'HEARTBEAT_INTERVAL:2s',
      '--show-interactive-dev-session=false',
    ],
    wranglerEnv,
  );
  await waitFor(
    'wrangler dev /healthz',
    async () => ((await fetch(`${cpUrl}/healthz`)).ok ? true : undefined),
    90_000,
    [worker],
  );
  const agentPort = await freePort();
  agent = startProcess('agent', 'bin/agent.mjs', ['start'], {
    CONTROL_PLANE_URL: cpUrl,
    JOIN_TOKEN: JOIN,
    AGENT_ID: 'edge-1',
    PORT: String(agentPort),
    MODEL_PATH: DEMO_MODEL_PATH,
    SUPPORTED_MODELS: DEMO_MODEL,
  });
  await waitFor(
    'agent registered with wrangler dev',
    async () => {
      const s = (await (await fetch(`${cpUrl}/v1/status`)).json()) as { agents: { id: string }[] };
      return s.agents.some((a) => a.id === 'edge-1') ? true : undefined;
    },
    90_000,
    [worker, agent],
  );
});

afterAll(async () => {
  if (agent) await stopProcess(agent);
  if (worker) await stopProcess(worker, 'SIGINT');
  if (persist) await rm(persist, { recursive: true, force: true });
});

it('streams a chat answer routed by the Workers control plane on wrangler dev', async () => {
  const r = await streamChat(cpUrl, {
    model: DEMO_MODEL,
    messages: [{ role: 'user', content: 'Say hello.' }],
    max_tokens: 16,
  });
  expect(r.sawDone).toBe(true);
  expect(r.completionTokens).toBeGreaterThan(0);
  // The job report reached D1 and released the slot.
  await waitFor(
    'slot released in D1',
    async () => {
      const s = (await (await fetch(`${cpUrl}/v1/status`)).json()) as {
        agents: { id: string; slots: { reserved: number }; tokensPerSecond: number | null }[];
      };
      const a = s.agents.find((x) => x.id === 'edge-1');
      return a && a.slots.reserved === 0 && a.tokensPerSecond !== null ? true : undefined;
    },
    10_000,
  );
});
