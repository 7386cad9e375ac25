// Crash isolation (ADR 0007): kill -9 the agent process under its supervisor mid-stream (what a
// llama.cpp abort() does). The TitanCompute client sees an explicit error (a TitanError with its
// code), never a clean end and never a silent one (support/faults.ts); the supervisor tells
// the control plane at once (offline, slots free, nothing routed there, long before
// HEARTBEAT_TIMEOUT) and restarts the agent, which registers again and serves.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, DEMO_MODEL, startCluster, waitFor } from '../../scripts/cluster.ts';
import {
  classify,
  count,
  countRequest,
  emptyTally,
  type Outcome,
  recordingClient,
  referenceAnswer,
  streamOnce,
  streamText,
  summarize,
} from './support/faults.ts';
import { freePort } from './support/ports.ts';
import { startFaults, storeFaults } from './support/store.ts';

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
    // The restart waits 3 s: long enough to see that nothing is routed to the dead agent.
    agentEnv: { CONTEXT_SIZE: '512', AGENT_RESTART_DELAY_MS: '3000' },
  });
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('engine crash', () => {
  it('streams end with an error when the agent process dies; the control plane knows at once; the supervisor restarts it', async () => {
    const run = startFaults('engine-crash');
    const reference = await referenceAnswer(recordingClient(cluster.url, []), countRequest(8));
    // One agent: there is nowhere to resume a broken stream, so the client must say it broke.
    const client = recordingClient(cluster.url, [], { resume: false });
    const tally = emptyTally();
    let started = 0;
    const streams = [0, 1].map(async (i): Promise<Outcome> => {
      tally.sent++;
      const ended = await streamText(
        client,
        body(`Write a very long story number ${i}.`, 400),
        (n) => {
          if (n === 1) started++;
        },
      );
      const outcome = classify(ended);
      count(tally, outcome);
      return outcome;
    });
    const t0 = performance.now();
    await waitFor('both streams to start', async () => (started === 2 ? true : undefined));
    console.log(
      `[engine-crash] both streams started after ${Math.round(performance.now() - t0)} ms`,
    );
    const supervisor = cluster.agents[0];
    const pid = supervisor?.agentPid;
    if (!supervisor || !pid) throw new Error('no supervised agent process');
    expect((await agentStatus())?.slots.reserved).toBe(2);

    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL'); // what a llama.cpp abort() inside the engine does to the process
    let offline: AgentStatus | undefined;
    while (!offline && performance.now() - killedAt < 10_000) {
      const a = await agentStatus();
      if (a?.state === 'offline') offline = a;
      else await new Promise((r) => setTimeout(r, 20));
    }
    const offlineMs = Math.round(performance.now() - killedAt);
    console.log(`[engine-crash] kill -9 → offline in /v1/status: ${offlineMs} ms`);
    // HEARTBEAT_TIMEOUT + LIVENESS_WRITE_INTERVAL would be 45 s.
    expect(offline).toBeDefined();
    // Offline by the supervisor's word, not by a heartbeat timeout (how fast: bench, not a test).
    await waitFor(
      'the supervisor to report the exit',
      async () =>
        supervisor.output.some((l) => l.includes('control plane told the agent is offline')) ||
        undefined,
    );
    // Its slots are free at once, and nothing is routed there.
    expect(offline?.slots.reserved).toBe(0);
    const route = await fetch(`${cluster.url}/v1/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: DEMO_MODEL }),
    });
    expect(route.status).toBe(503);
    expect(await route.text()).toContain('1 offline');

    // Never a clean end, never a silent one: the client throws TitanError('stream_broken').
    const outcomes = await Promise.all(streams);
    const endedMs = Math.round(performance.now() - killedAt);
    console.log(`[engine-crash] streams ended ${endedMs} ms after the kill`);
    expect(outcomes).toEqual([
      { kind: 'explicit', code: 'stream_broken' },
      { kind: 'explicit', code: 'stream_broken' },
    ]);

    // The supervisor (still the same process) restarts the agent; registering again gives every
    // slot back.
    await waitFor(
      'agent re-registered with free slots',
      async () => {
        const a = await agentStatus();
        return a?.state === 'healthy' && a.slots.reserved === 0 ? true : undefined;
      },
      120_000,
      [supervisor],
    );
    console.log(
      `[engine-crash] kill -9 → healthy again (restart delay 3 s): ${Math.round(performance.now() - killedAt)} ms`,
    );
    expect(supervisor.agentPid).not.toBe(pid);
    const healthyMs = Math.round(performance.now() - killedAt);
    const after = emptyTally();
    await Promise.all([0, 1].map(() => streamOnce(client, after, { maxTokens: 8, reference })));
    const figures = {
      ...summarize(tally),
      offlineMs,
      streamsEndedMs: endedMs,
      healthyAgainMs: healthyMs,
      restartDelayMs: 3000,
    };
    storeFaults(
      run,
      { 'kill -9 of the agent process mid-stream': figures, 'after the restart': summarize(after) },
      'test/e2e/engine-crash.test.ts',
    );
    expect(after).toMatchObject({ completed: 2, lost: 0 });
  }, 300_000);
});
