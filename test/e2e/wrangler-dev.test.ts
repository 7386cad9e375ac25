import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  DEMO_MODEL,
  DEMO_MODEL_PATH,
  type Proc,
  startProcess,
  stopProcess,
  TEST_ENGINE,
  waitFor,
} from '../../scripts/cluster.ts';
import { streamChat } from '../../scripts/sse.ts';
import { startWranglerDev, type WranglerDev } from '../../scripts/wrangler-dev.ts';
import { freePort } from './support/ports.ts';

const JOIN = 'wrangler-e2e-token';
let dev: WranglerDev | undefined;
let agent: Proc | undefined;
let cpUrl: string;

beforeAll(async () => {
  dev = await startWranglerDev({
    JOIN_TOKEN: JOIN,
    AUTH_MODE: 'development',
    HEARTBEAT_INTERVAL: '2s',
  });
  cpUrl = dev.url;
  const agentPort = await freePort();
  agent = startProcess('agent', 'bin/agent.mjs', ['start'], {
    CONTROL_PLANE_URL: cpUrl,
    JOIN_TOKEN: JOIN,
    AGENT_ID: 'edge-1',
    PORT: String(agentPort),
    MODEL_PATH: DEMO_MODEL_PATH,
    SUPPORTED_MODELS: DEMO_MODEL,
    ENGINE: TEST_ENGINE,
  });
  await waitFor(
    'agent registered with wrangler dev',
    async () => {
      const s = (await (await fetch(`${cpUrl}/v1/status`)).json()) as { agents: { id: string }[] };
      return s.agents.some((a) => a.id === 'edge-1') ? true : undefined;
    },
    90_000,
    [dev.proc, agent],
  );
});

afterAll(async () => {
  if (agent) await stopProcess(agent);
  await dev?.stop();
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
