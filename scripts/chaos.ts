// `npm run chaos`: steady load through the TitanCompute client while an agent is killed every 20 s.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../control-plane/config.ts';
import { emptyTally, recordingClient, streamOnce, summarize } from '../test/e2e/support/faults.ts';
import { freePort } from '../test/e2e/support/ports.ts';
import { startCluster, threadsPerAgent, waitFor } from './cluster.ts';

const durationMs = parseDuration(process.env.CHAOS_DURATION, 180_000, 'CHAOS_DURATION');
const killEveryMs = parseDuration(process.env.CHAOS_KILL_EVERY, 20_000, 'CHAOS_KILL_EVERY');
const restartAfterMs = parseDuration(process.env.CHAOS_RESTART_AFTER, 5_000, 'CHAOS_RESTART_AFTER');
const concurrency = Number(process.env.CHAOS_CONCURRENCY ?? 4);
const maxTokens = Number(process.env.CHAOS_MAX_TOKENS ?? 16);

async function main() {
  const dataDir = await mkdtemp(join(tmpdir(), 'titan-chaos-'));
  const agentPorts = [await freePort(), await freePort(), await freePort()];
  // Three agents on one host share its cores (startCluster; THREADS in the environment overrides).
  const agentThreads = process.env.THREADS ?? threadsPerAgent(agentPorts.length);
  console.log(
    `chaos: 3 agents (THREADS=${agentThreads}), ${concurrency} concurrent streams of ${maxTokens} tokens for ${durationMs / 1000} s, ` +
      `kill -9 one agent every ${killEveryMs / 1000} s, restart after ${restartAfterMs / 1000} s`,
  );
  const cluster = await startCluster({
    cpPort: await freePort(),
    agentPorts,
    dataDir,
    joinToken: 'chaos-join-token',
    maxConcurrentJobs: 2,
    // Whole agents are killed and restarted by this script (ADR 0004's figures): no supervisor,
    // which would tell the control plane and restart the agent itself.
    supervise: false,
  });
  let resumed = 0;
  const client = recordingClient(cluster.url, [], {
    idleTimeoutMs: 15_000,
    onResume: () => resumed++,
  });
  const tally = emptyTally();
  const kills: { agent: number; at: number }[] = [];
  const end = Date.now() + durationMs;
  const restarts: Promise<unknown>[] = [];

  const killer = setInterval(() => {
    const i = kills.length % agentPorts.length;
    kills.push({ agent: i, at: Date.now() });
    cluster.agents[i]?.child.kill('SIGKILL');
    console.log(
      `t=${Math.round((Date.now() - end + durationMs) / 1000)} s: kill -9 agent-${i + 1}`,
    );
    const restart = new Promise((ok) => setTimeout(ok, restartAfterMs)).then(() => {
      const proc = cluster.startAgent(i);
      return waitFor(
        `agent-${i + 1} back`,
        async () => ((await fetch(`${cluster.agentUrls[i]}/healthz`)).ok ? true : undefined),
        120_000,
        [proc],
      ).catch((err: unknown) => console.error(String(err)));
    });
    restarts.push(restart);
  }, killEveryMs);

  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) await streamOnce(client, tally, maxTokens);
    }),
  );
  clearInterval(killer);
  await Promise.all(restarts);
  await cluster.stop();
  await rm(dataDir, { recursive: true, force: true });

  const completedShare = tally.completed / Math.max(1, tally.sent);
  const summary = {
    ...summarize(tally),
    completedPercent: Math.round(completedShare * 100_000) / 1000,
    resumedOnAnotherAgent: resumed,
    kills: kills.length,
  };
  console.log(JSON.stringify(summary, null, 2));
  const ok = tally.lost === 0 && completedShare >= 0.999;
  console.log(ok ? 'chaos: PASS' : 'chaos: FAIL (goal: 0 lost, >= 99.9% completed)');
  process.exit(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(2);
});
