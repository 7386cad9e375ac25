// The agent's crash supervisor with real processes (ADR 0007): a killed agent process is out of
// routing at once and back after a restart; too many crashes and the supervisor gives up; SIGTERM
// drains through it; a killed supervisor leaves no orphan behind.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cluster,
  DEMO_MODEL,
  logLine,
  type Proc,
  startCluster,
  waitFor,
} from '../../scripts/cluster.ts';
import { sseData } from '../../scripts/sse.ts';
import {
  agentStatus,
  type Contact,
  countRequest,
  emptyTally,
  load,
  recordingClient,
  referenceAnswer,
  routesTo,
  streamOnce,
  summarize,
} from './support/faults.ts';
import { freePort } from './support/ports.ts';
import { startFaults, storeFaults } from './support/store.ts';

let cluster: Cluster;
let dataDir: string;

/** Gone, or a zombie nobody reaped yet (a container's init may not). */
function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }
}

const exited = (p: Proc) =>
  p.child.exitCode !== null || p.child.signalCode !== null
    ? Promise.resolve(p.child.exitCode)
    : new Promise<number | null>((ok) => p.child.once('exit', (code) => ok(code)));

/** How many registrations agent-1's supervisor has been told of (its log says each). */
const registrationsKnown = (p: Proc | undefined) =>
  p?.output.filter((l) => logLine(l).msg === 'supervisor: agent registered').length ?? 0;

/**
 * Agent-1 healthy in the control plane and its supervisor told of that registration: the control
 * plane reads healthy a moment before the agent process has the new credential and passes it on,
 * and a crash in between can only be found by heartbeat timeout.
 */
async function agent1Registered(proc: Proc, known: number): Promise<void> {
  await waitFor(
    'agent-1 healthy, its supervisor told',
    async () =>
      (await agentStatus(cluster.url, 'agent-1'))?.state === 'healthy' &&
      registrationsKnown(proc) > known
        ? true
        : undefined,
    120_000,
    [proc],
  );
}

/** Kills agent-1's agent process (not its supervisor) and waits until the control plane says offline. */
async function crashAgent1(): Promise<{
  pid: number;
  offlineMs: number;
  killedAt: number;
  detectedAt: number;
}> {
  const pid = cluster.agents[0]?.agentPid;
  if (!pid) throw new Error('agent-1 runs no agent process');
  const killedAt = performance.now();
  process.kill(pid, 'SIGKILL');
  for (;;) {
    if ((await agentStatus(cluster.url, 'agent-1'))?.state === 'offline')
      return {
        pid,
        offlineMs: Math.round(performance.now() - killedAt),
        killedAt,
        detectedAt: Date.now(),
      };
    if (performance.now() - killedAt > 10_000) throw new Error('agent-1 never went offline');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function restartAgent1(): Promise<Proc> {
  const proc = cluster.startAgent(0);
  await agent1Registered(proc, 0);
  return proc;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-supervisor-'));
  cluster = await startCluster({
    cpPort: await freePort(),
    agentPorts: [await freePort(), await freePort()],
    dataDir,
    joinToken: 'supervisor-join-token',
    maxConcurrentJobs: 4,
    agentEnv: { CONTEXT_SIZE: '512' },
    // agent-1: restarts after 4 s (time to look at routing meanwhile), and only once per window;
    // drains for as long as a stream takes on a busy test machine.
    perAgentEnv: [
      { AGENT_RESTART_DELAY_MS: '4000', AGENT_RESTART_LIMIT: '1', DRAIN_TIMEOUT_MS: '120000' },
    ],
  });
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('agent supervisor (real processes)', { timeout: 300_000 }, () => {
  it('kill -9 of the agent process: offline at once, nothing routed to it, restarted by its supervisor', async () => {
    const run = startFaults('supervisor');
    const supervisor = cluster.agents[0]!;
    await agent1Registered(supervisor, 0);
    const reference = await referenceAnswer(recordingClient(cluster.url, []), countRequest(4));
    const { pid, offlineMs, killedAt, detectedAt } = await crashAgent1();
    console.log(`[supervisor] kill -9 → offline in /v1/status: ${offlineMs} ms`);
    // Offline by the supervisor's word, not by a heartbeat timeout (how fast: bench, not a test).
    await waitFor(
      'the supervisor to report the exit',
      async () =>
        supervisor.output.some((l) => l.includes('control plane told the agent is offline')) ||
        undefined,
    );
    // While it is down, every request goes to agent-2, none tries agent-1 first.
    const contacts: Contact[] = [];
    const client = recordingClient(cluster.url, contacts);
    const tally = emptyTally();
    await load(4, 4, () => streamOnce(client, tally, { maxTokens: 4, reference }));
    const routedToDead = routesTo(contacts, cluster.agentUrls[0], detectedAt);
    expect((await agentStatus(cluster.url, 'agent-1'))?.state).toBe('offline');
    // The supervisor brings it back by itself.
    await agent1Registered(supervisor, 1);
    const figures = {
      ...summarize(tally),
      offlineMs,
      routesToDeadAfterDetection: routedToDead,
      healthyAgainMs: Math.round(performance.now() - killedAt),
      restartDelayMs: 4000,
    };
    console.log(`[supervisor] ${JSON.stringify(figures)}`);
    storeFaults(run, { 'kill -9 of the agent process': figures }, 'test/e2e/supervisor.test.ts');
    expect(tally.lost).toBe(0);
    expect(tally.completed).toBe(4);
    expect(routedToDead).toBe(0);
    expect(contacts.map((c) => c.origin)).toEqual(Array(4).fill(cluster.agentUrls[1]));
    expect(supervisor.agentPid).not.toBe(pid);
    expect(supervisor.output.join('\n')).toContain(
      'supervisor: control plane told the agent is offline',
    );
  });

  it('gives up after too many crashes in the window and exits non-zero', async () => {
    const supervisor = cluster.agents[0]!;
    const status = exited(supervisor);
    await crashAgent1(); // the second crash in the window, AGENT_RESTART_LIMIT=1
    expect(await status).toBe(137);
    expect(supervisor.output.join('\n')).toContain('supervisor: agent keeps crashing; giving up');
    await restartAgent1();
  });

  it('SIGTERM to the supervisor: the agent drains its stream, both exit 0, nothing restarts', async () => {
    const supervisor = cluster.agents[0]!;
    const pid = supervisor.agentPid!;
    // A stream on agent-1, by its ticket.
    const route = (await (
      await fetch(`${cluster.url}/v1/route`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: DEMO_MODEL, exclude: ['agent-2'] }),
      })
    ).json()) as { agent: { id: string; url: string }; ticket: string };
    expect(route.agent.id).toBe('agent-1');
    const res = await fetch(`${route.agent.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${route.ticket}` },
      body: JSON.stringify({
        model: DEMO_MODEL,
        messages: [{ role: 'user', content: 'Count from one to fifty.' }],
        max_tokens: 40,
        stream: true,
      }),
    });
    expect(res.status).toBe(200);
    const events = sseData(res.body!)[Symbol.asyncIterator]();
    await events.next(); // the stream is running
    const status = exited(supervisor);
    supervisor.child.kill('SIGTERM');
    let sawDone = false;
    for (let e = await events.next(); !e.done; e = await events.next()) {
      if (e.value === '[DONE]') sawDone = true;
    }
    expect(sawDone).toBe(true);
    expect(await status).toBe(0);
    expect(processGone(pid)).toBe(true);
    const out = supervisor.output.join('\n');
    expect(out).toContain('supervisor: stopping the agent process (it drains)');
    const lines = supervisor.output.map(logLine);
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'draining', reason: 'SIGTERM', activeJobs: 1 }),
    );
    // The drained agent said it was going: offline now, not at the heartbeat timeout.
    expect((await agentStatus(cluster.url, 'agent-1'))?.state).toBe('offline');
    expect(out).not.toContain('supervisor: agent process died');
    expect(out.match(/supervisor: agent process started/g)).toHaveLength(1);
    await restartAgent1();
  });

  it('kill -9 of the supervisor: its agent process drains and exits, no orphan', async () => {
    const supervisor = cluster.agents[0]!;
    const pid = supervisor.agentPid!;
    supervisor.child.kill('SIGKILL');
    await exited(supervisor);
    await waitFor('the orphaned agent process to exit', async () =>
      processGone(pid) ? true : undefined,
    );
    await expect(fetch(`${cluster.agentUrls[0]}/healthz`)).rejects.toThrow();
    // It said it was draining on its way out: not routable.
    expect(['draining', 'offline']).toContain((await agentStatus(cluster.url, 'agent-1'))?.state);
  });
});
