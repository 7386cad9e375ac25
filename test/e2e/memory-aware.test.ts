// Two real agents; one offers too little free memory, so the scheduler sends everything to the other.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Cluster, DEMO_MODEL, startCluster } from '../../scripts/cluster.ts';
import { freePort } from './support/ports.ts';

let cluster: Cluster;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-mem-'));
  cluster = await startCluster({
    cpPort: await freePort(),
    agentPorts: [await freePort(), await freePort()],
    dataDir,
    joinToken: 'mem-join',
    // agent-2 offers at most 64 MiB, less than its own process uses: no memory to spare.
    perAgentEnv: [{}, { MEMORY_LIMIT: '64MiB' }],
  });
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it('routes every request to the agent with memory to spare and says why', async () => {
  const chosen: string[] = [];
  for (let i = 0; i < 8; i++) {
    const res = await fetch(`${cluster.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: DEMO_MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 2,
      }),
      redirect: 'manual',
    });
    expect(res.status).toBe(307);
    chosen.push(res.headers.get('x-titan-agent') ?? '');
    // Follow it, so the slot is used and released as a real client would.
    const served = await fetch(res.headers.get('location') ?? '', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: DEMO_MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 2,
      }),
    });
    expect(served.status).toBe(200);
    await served.text();
  }
  expect(chosen).toEqual(Array(8).fill('agent-1'));

  const debug = (await (
    await fetch(`${cluster.url}/v1/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: DEMO_MODEL, debug: true }),
    })
  ).json()) as { debug: { excluded: { agentId: string; filter: string; reason: string }[] } };
  expect(debug.debug.excluded).toEqual([
    expect.objectContaining({
      agentId: 'agent-2',
      filter: 'memory',
      reason: expect.stringContaining('memory pressure'),
    }),
  ]);

  const status = (await (await fetch(`${cluster.url}/v1/status`)).json()) as {
    agents: {
      id: string;
      state: string;
      lastExclusion: { reason: string } | null;
      lastScore: { score: number } | null;
    }[];
  };
  expect(status.agents.find((a) => a.id === 'agent-2')?.lastExclusion?.reason).toContain(
    'memory pressure',
  );
  expect(status.agents.find((a) => a.id === 'agent-1')?.lastScore?.score).toBeGreaterThan(0);
  // Memory pressure is also a health state: degraded, not offline.
  expect(status.agents.find((a) => a.id === 'agent-2')?.state).toBe('degraded');
  expect(status.agents.find((a) => a.id === 'agent-1')?.state).toBe('healthy');
});
