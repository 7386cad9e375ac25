// Crash isolation (ADR 0007): kill -9 the agent mid-stream; clients see an explicit error, never a
// clean end, and the restarted agent re-registers with all its slots back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, DEMO_MODEL, startCluster, waitFor } from '../../scripts/cluster.ts';
import { streamChat } from '../../scripts/sse.ts';
import { freePort } from './support/ports.ts';

let cluster: Cluster;
let dataDir: string;

interface AgentStatus {
  id: string;
  state: string;
  slots: { reserved: number; max: number };
}

async function agentStatus(): Promise<AgentStatus | undefined> {
  const s = (await (await fetch(`${cluster.url}/v1/status`)).json()) as { agents: AgentStatus[] };
  return s.agents[0];
}

const body = (content: string, maxTokens: number) => ({
  model: DEMO_MODEL,
  messages: [{ role: 'user', content }],
  max_tokens: maxTokens,
});

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-crash-'));
  cluster = await startCluster({
    cpPort: await freePort(),
    agentPorts: [await freePort()],
    dataDir,
    joinToken: 'crash-join-token',
    maxConcurrentJobs: 2,
    agentEnv: { CONTEXT_SIZE: '512' },
  });
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('engine crash', () => {
  it('streams end with an error when the agent process dies; the restarted agent serves again', async () => {
    let started = 0;
    const seen = [false, false];
    const streams = [0, 1].map((i) =>
      streamChat(cluster.url, body(`Write a very long story number ${i}.`, 400), () => {
        if (!seen[i]) started++;
        seen[i] = true;
      }).then(
        (r) => (r.sawDone ? 'completed' : 'truncated'),
        (err: Error) => `error: ${err.message}`,
      ),
    );
    await waitFor('both streams to start', async () => (started === 2 ? true : undefined));
    const agent = cluster.agents[0];
    if (!agent) throw new Error('no agent');
    const exited = new Promise((ok) => agent.child.once('exit', ok));
    agent.child.kill('SIGKILL'); // what a llama.cpp abort() inside the engine does to the process
    await exited;

    // Never a clean `[DONE]`: the client sees the connection die (an error, or a stream
    // without its final event, which streamChat reports as `truncated`).
    const outcomes = await Promise.all(streams);
    for (const o of outcomes) expect(o).not.toBe('completed');
    expect(outcomes.some((o) => o.startsWith('error'))).toBe(true);

    // The supervisor (here the test) restarts it; registering gives every slot back at once.
    cluster.startAgent(0);
    await waitFor(
      'agent re-registered with free slots',
      async () => {
        const a = await agentStatus();
        return a?.state === 'healthy' && a.slots.reserved === 0 ? true : undefined;
      },
      120_000,
    );
    const after = await Promise.all(
      [0, 1].map((i) => streamChat(cluster.url, body(`Say hello ${i}.`, 8))),
    );
    for (const r of after) expect(r).toMatchObject({ sawDone: true });
  }, 300_000);
});
