// Fault tests with real processes: kill -9, SIGSTOP and a control-plane restart; nothing is lost
// (support/faults.ts defines lost), and nothing is routed to a dead agent once it is detected.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResumeInfo } from '../../client/titan-client.ts';
import {
  type Cluster,
  DEMO_MODEL,
  type Proc,
  startCluster,
  startProcess,
  stopProcess,
  waitFor,
} from '../../scripts/cluster.ts';
import {
  agentStatus,
  type Contact,
  classify,
  closeBreaker,
  count,
  countRequest,
  type Detection,
  detection,
  emptyTally,
  load,
  recordingClient,
  referenceAnswer,
  routesAfterDetection,
  streamOnce,
  streamText,
  summarize,
} from './support/faults.ts';
import { freePort } from './support/ports.ts';
import { type Figures, startFaults, storeFaults } from './support/store.ts';

const COOLDOWN_MS = 10_000;
const JOIN = 'faults-join-token';
// Three consecutive failures open a breaker here (default 5): fewer requests reach the dead agent.
const cpEnv = { BREAKER_COOLDOWN: `${COOLDOWN_MS}ms`, BREAKER_FAILURES: '3' };
const IDS = ['agent-1', 'agent-2'];

let cluster: Cluster;
let dataDir: string;
let cpPort: number;
let restartedCp: Proc | undefined;
const run = startFaults('faults');
const report: Record<string, Figures> = {};
/** Each request's unbroken greedy answer by max_tokens, taken while both agents are up. */
const refs: Record<number, string> = {};

const healthy = (id: string) =>
  waitFor(
    `${id} healthy`,
    async () => ((await agentStatus(cluster.url, id))?.state === 'healthy' ? true : undefined),
    120_000,
  );

/**
 * The agent is routable through the (restarted) control plane. Its state may still read
 * degraded from failures seen in earlier scenarios: that clears only with successes, which need
 * traffic, so waiting for 'healthy' here could wait forever.
 */
const carriesOn = (id: string) =>
  waitFor(
    `${id} heartbeating and routable`,
    async () => {
      const s = (await (await fetch(`${cluster.url}/v1/status`)).json()) as {
        agents: { id: string; state: string }[];
      };
      const a = s.agents.find((x) => x.id === id);
      return a && (a.state === 'healthy' || a.state === 'degraded') ? true : undefined;
    },
    120_000,
  );

async function restartAgent(i: number) {
  const proc = cluster.startAgent(i);
  await waitFor(
    `${IDS[i]} up`,
    async () => ((await fetch(`${cluster.agentUrls[i]}/healthz`)).ok ? true : undefined),
    120_000,
    [proc],
  );
  await healthy(IDS[i]!);
  await closeBreaker(
    cluster.url,
    IDS[i]!,
    IDS.filter((_, j) => j !== i),
  );
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-faults-'));
  cpPort = await freePort();
  cluster = await startCluster({
    cpPort,
    agentPorts: [await freePort(), await freePort()],
    dataDir,
    joinToken: JOIN,
    maxConcurrentJobs: 2,
    cpEnv,
    echo: process.env.FAULTS_ECHO === '1',
    // Whole agents die or hang here (a lost host, a frozen process): nobody tells the control
    // plane, which must find out from clients and breakers. Under its supervisor, kill -9 would
    // hit the supervisor alone (its agent would drain and exit) and SIGSTOP would freeze nothing
    // that serves. The supervised crash is test/e2e/supervisor.test.ts.
    supervise: false,
  });
  const client = recordingClient(cluster.url, []);
  for (const n of [8, 64]) refs[n] = await referenceAnswer(client, countRequest(n));
});

afterAll(async () => {
  console.log(`[faults] ${JSON.stringify(report, null, 1)}`);
  storeFaults(run, report, 'test/e2e/faults.test.ts');
  for (const p of cluster?.agents ?? []) {
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      console.log(
        `[faults] ${p.name} gone (${p.child.exitCode ?? p.child.signalCode}):\n${p.output.slice(-15).join('\n')}`,
      );
  }
  if (restartedCp) await stopProcess(restartedCp);
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('fault tests (real processes)', { timeout: 300_000 }, () => {
  it('kill -9 an agent mid-stream: the stream resumes on the other agent, nothing lost or repeated', async () => {
    const contacts: Contact[] = [];
    const resumes: ResumeInfo[] = [];
    const client = recordingClient(cluster.url, contacts, {
      idleTimeoutMs: 10_000,
      onResume: (r) => resumes.push(r),
    });
    // Greedy, so the answer is one text whichever agent writes which part of it.
    const body = {
      model: DEMO_MODEL,
      messages: [
        { role: 'user', content: 'Write a long story about a dragon who learns to cook.' },
      ],
      max_tokens: 300,
      temperature: 0,
    };
    const reference = await referenceAnswer(client, body);
    const tally = emptyTally();
    let victim = -1;
    let dead: string | undefined;
    let killedAt = 0;
    let detecting: Promise<Detection> | undefined;
    let gapMs = Number.NaN;
    tally.sent++;
    const resumed = await streamText(client, body, (n) => {
      if (n === 21) gapMs = performance.now() - killedAt;
      if (n !== 20) return;
      dead = contacts.at(-1)?.origin;
      victim = cluster.agentUrls.indexOf(dead ?? '');
      killedAt = performance.now();
      cluster.agents[victim]?.child.kill('SIGKILL');
      detecting = detection(cluster.url, IDS[victim]!);
    });
    // Every token once, in order: the text equals the uninterrupted answer.
    count(tally, classify(resumed, reference));
    expect(victim).toBeGreaterThanOrEqual(0);
    expect(resumes).toHaveLength(1);
    expect(resumes[0]?.fromAgent).toBe(IDS[victim]);
    expect(resumes[0]?.textEvents).toBeGreaterThanOrEqual(20);
    await load(4, 2, () => streamOnce(client, tally, { reference: refs[8] }));
    const loadEnd = Date.now();
    // Detected by its breaker (clients' reports) or, failing that, by missed heartbeats.
    const detected = await (detecting as Promise<Detection>);
    const routed = routesAfterDetection(contacts, dead, detected, loadEnd, COOLDOWN_MS);
    report['kill -9 mid-stream'] = {
      ...summarize(tally),
      resumeGapMs: Math.round(gapMs),
      victim: IDS[victim],
      resumedAfterEvents: resumes[0]?.textEvents,
      answerChars: reference.length,
      detectedBy: detected.by,
      detectedAfterLoad: detected.at > loadEnd,
      routesToDeadAfterDetection: routed.total,
      routesToDeadWhileExcluded: routed.whileExcluded,
    };
    await restartAgent(victim);
    expect(tally.lost).toBe(0);
    expect(tally.completed).toBe(5);
    expect(routed.whileExcluded).toBe(0);
  });

  it('client disconnects mid-stream: slot freed within seconds, job cancelled, no breaker failure', async () => {
    const contacts: Contact[] = [];
    const client = recordingClient(cluster.url, contacts);
    const ctl = new AbortController();
    let abortedAt = 0;
    const stream = client.stream(
      '/v1/chat/completions',
      {
        model: DEMO_MODEL,
        messages: [{ role: 'user', content: 'Write a long story about a lighthouse.' }],
        max_tokens: 400,
      },
      ctl.signal,
    );
    const ended = await (async () => {
      for await (const _ of stream) {
        abortedAt = Date.now();
        ctl.abort();
      }
    })().catch((err: unknown) => err);
    expect((ended as Error).name).toBe('AbortError');
    const agentUrl = contacts.at(-1)?.origin ?? '';
    const id = IDS[cluster.agentUrls.indexOf(agentUrl)]!;
    const freedMs = await waitFor(
      'slot freed on the agent and in the control plane',
      async () => {
        const agent = (await (await fetch(`${agentUrl}/v1/agent/status`)).json()) as {
          activeJobs: number;
        };
        const s = (await (await fetch(`${cluster.url}/v1/status`)).json()) as {
          agents: { id: string; slots: { reserved: number } }[];
        };
        const reserved = s.agents.find((a) => a.id === id)?.slots.reserved;
        return agent.activeJobs === 0 && reserved === 0 ? Date.now() - abortedAt : undefined;
      },
      30_000,
    );
    // The agent's job report reached the control plane: the ticket is `cancelled`.
    const db = new Database(join(dataDir, 'control-plane.db'), { readonly: true });
    const outcome = await waitFor('job report', async () => {
      const row = db
        .prepare('select state from tickets where agent_id = ? order by issued_at desc limit 1')
        .get(id) as { state: string } | undefined;
      return row && row.state !== 'issued' && row.state !== 'running' ? row.state : undefined;
    });
    db.close();
    const a = await agentStatus(cluster.url, id);
    report['client disconnect'] = { agent: id, freedMs, outcome };
    expect(outcome).toBe('cancelled');
    expect(a?.breaker).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
  });

  it('SIGSTOP an agent: requests time out on it and fail over; SIGCONT brings it back', async () => {
    const contacts: Contact[] = [];
    const client = recordingClient(cluster.url, contacts, { firstTokenTimeoutMs: 4_000 });
    const tally = emptyTally();
    const stopped = cluster.agents[1]!;
    stopped.child.kill('SIGSTOP');
    try {
      await load(8, 4, () => streamOnce(client, tally, { reference: refs[8] }));
    } finally {
      stopped.child.kill('SIGCONT');
    }
    const toStopped = contacts.filter((c) => c.origin === cluster.agentUrls[1]).length;
    report.SIGSTOP = { ...summarize(tally), attemptsOnStoppedAgent: toStopped };
    expect(tally.lost).toBe(0);
    expect(tally.completed).toBe(8);
    await closeBreaker(cluster.url, 'agent-2', ['agent-1']);
  });

  it('kill -9 an idle agent: every request completes elsewhere, its breaker opens, then no traffic', async () => {
    const contacts: Contact[] = [];
    const client = recordingClient(cluster.url, contacts);
    const tally = emptyTally();
    const killedAt = Date.now();
    const dead = cluster.agentUrls[0];
    cluster.agents[0]!.child.kill('SIGKILL');
    try {
      // Detected: breaker open (clients' reports) or, if it got too few requests, offline (silence).
      const detecting = detection(cluster.url, 'agent-1');
      // Concurrency above agent-2's 2 slots makes the scheduler pick the dead agent too.
      await load(12, 6, () => streamOnce(client, tally, { reference: refs[8] }));
      const detected = await detecting;
      // A fresh batch once it is surely detected.
      await load(6, 4, () => streamOnce(client, tally, { reference: refs[8] }));
      const loadEnd = Date.now();
      const a1 = await agentStatus(cluster.url, 'agent-1');
      // From detection through the end of both batches.
      const routed = routesAfterDetection(contacts, dead, detected, loadEnd, COOLDOWN_MS);
      report['kill -9 idle'] = {
        ...summarize(tally),
        detectedBy: detected.by,
        detectMs: detected.at - killedAt,
        routesToDeadAgent: contacts.filter((c) => c.origin === dead).length,
        routesToDeadAfterDetection: routed.total,
        routesToDeadWhileExcluded: routed.whileExcluded,
        breakerAfter: a1?.breaker.state,
      };
      expect(tally.lost).toBe(0);
      expect(tally.completed).toBe(18);
      expect(routed.whileExcluded).toBe(0);
    } finally {
      await restartAgent(0);
    }
  });

  it('kill -9 the control plane and restart it: streams go on, old tickets stay valid, agents carry on', async () => {
    const contacts: Contact[] = [];
    const client = recordingClient(cluster.url, contacts, { deadlineMs: 120_000 });
    const tally = emptyTally();
    const route = await fetch(`${cluster.url}/v1/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: DEMO_MODEL }),
    });
    const old = (await route.json()) as { agent: { url: string }; ticket: string };
    const killedAt = Date.now();
    await streamOnce(client, tally, {
      maxTokens: 64,
      reference: refs[64],
      onFirstToken: () => cluster.controlPlane.child.kill('SIGKILL'),
    });
    expect(tally.completed).toBe(1);
    restartedCp = startProcess('control-plane-2', 'bin/control-plane.mjs', [], {
      PORT: String(cpPort),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      JOIN_TOKEN: JOIN,
      HEARTBEAT_INTERVAL: '2s',
      // As scripts/cluster.ts starts it: loopback development mode, no client keys.
      AUTH_MODE: 'development',
      ...cpEnv,
    });
    await waitFor(
      'control plane back',
      async () => ((await fetch(`${cluster.url}/readyz`)).ok ? true : undefined),
      120_000,
      [restartedCp],
    );
    const recoveredMs = Date.now() - killedAt;
    // A ticket signed before the crash is honoured by its agent (the key lives in DATA_DIR).
    const res = await fetch(`${old.agent.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${old.ticket}` },
      body: JSON.stringify({
        model: DEMO_MODEL,
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 4,
      }),
    });
    expect(res.status).toBe(200);
    await res.text();
    await Promise.all(IDS.map(carriesOn));
    await load(4, 2, () => streamOnce(client, tally, { reference: refs[8] }));
    report['control plane kill -9 + restart'] = { ...summarize(tally), recoveredMs };
    expect(tally.lost).toBe(0);
    expect(tally.completed).toBe(5);
  });
});
