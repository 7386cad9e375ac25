// Issue 13, finding 4: a used ticket replayed after the agent restarts. A real control plane and a
// real agent server over sockets; the "restart" is a new agent (fresh memory, same id and state
// folder, so it re-registers with its stored credential as a supervised restart does).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeEngine } from '../../../agent/engines/fake.ts';
import { silentLogger } from '../../../agent/log.ts';
import { type RunningAgent, startAgent } from '../../../agent/server.ts';
import { startControlPlane } from '../../../control-plane/node/main.ts';
import { fixedStats, testAgentConfig } from '../agent/agent-config.ts';
import { until } from '../agent/helpers.ts';

const MODEL = 'fake-model';
const json = { 'content-type': 'application/json' };

describe('ticket replay across an agent restart', () => {
  let dir: string;
  let cp: Awaited<ReturnType<typeof startControlPlane>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'titan-replay-'));
    cp = await startControlPlane({
      PORT: '0',
      DATA_DIR: dir,
      AUTH_MODE: 'development',
      JOIN_TOKEN: 'join',
    });
  });
  afterAll(async () => {
    await cp.close();
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (): Promise<RunningAgent> => {
    const config = testAgentConfig({
      agentId: 'agent-r',
      controlPlaneUrl: cp.url,
      stateDir: join(dir, 'agent'),
    });
    const agent = await startAgent(config, {
      engine: new FakeEngine({ models: [MODEL] }),
      stats: fixedStats,
      log: silentLogger,
    });
    await until(() => agent.controlPlane.registration !== undefined, 10_000);
    return agent;
  };
  const use = (agent: RunningAgent, ticket: string) =>
    fetch(`${agent.url}/v1/chat/completions?ticket=${ticket}`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('a ticket used before the restart is refused after it', async () => {
    const first = await start();
    const routed = await fetch(`${cp.url}/v1/route`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ model: MODEL }),
    });
    expect(routed.status).toBe(200);
    const { ticket } = (await routed.json()) as { ticket: string };
    expect((await use(first, ticket)).status).toBe(200);
    const replay = await use(first, ticket);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: { code: 'ticket_replayed' } });

    await first.shutdown('restart');
    const second = await start();
    try {
      const again = await use(second, ticket);
      expect(again.status).toBe(401);
      expect(await again.json()).toMatchObject({
        error: { code: 'ticket_before_registration', type: 'authentication_error' },
      });
      // The control: a ticket issued under the new registration is served.
      const fresh = await fetch(`${cp.url}/v1/route`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ model: MODEL }),
      });
      const next = (await fresh.json()) as { ticket: string; agent: { url: string } };
      expect(next.agent.url).toBe(second.url);
      expect((await use(second, next.ticket)).status).toBe(200);
    } finally {
      await second.shutdown('test');
    }
  });
});
