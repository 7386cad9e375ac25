// `npm run chaos`: steady load through the TitanCompute client while a live agent is killed every
// 20 s. Every answer is greedy and checked against the same prompt's unbroken answer (a resumed
// stream must equal it; test/e2e/support/faults.ts defines lost). The run's output is stored under
// bench/results/ (bench/results.ts) for docs/faults.md to quote.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishRun, startRun } from '../bench/results.ts';
import { table } from '../bench/stats.ts';
import { parseDuration } from '../control-plane/core/config-values.ts';
import {
  countRequest,
  emptyTally,
  recordingClient,
  referenceAnswer,
  streamOnce,
  summarize,
} from '../test/e2e/support/faults.ts';
import { freePort } from '../test/e2e/support/ports.ts';
import { type Proc, startCluster, threadsPerAgent, waitFor } from './cluster.ts';

const durationMs = parseDuration(process.env.CHAOS_DURATION, 180_000, 'CHAOS_DURATION');
const killEveryMs = parseDuration(process.env.CHAOS_KILL_EVERY, 20_000, 'CHAOS_KILL_EVERY');
const restartAfterMs = parseDuration(process.env.CHAOS_RESTART_AFTER, 5_000, 'CHAOS_RESTART_AFTER');
const concurrency = Number(process.env.CHAOS_CONCURRENCY ?? 4);
const maxTokens = Number(process.env.CHAOS_MAX_TOKENS ?? 16);

const output: string[] = [];
function log(line: string) {
  output.push(line);
  console.log(line);
}

const alive = (p: Proc | undefined) =>
  p !== undefined && p.child.exitCode === null && p.child.signalCode === null;

async function main() {
  const run = startRun('chaos');
  const dataDir = await mkdtemp(join(tmpdir(), 'titan-chaos-'));
  const agentPorts = [await freePort(), await freePort(), await freePort()];
  // Three agents on one host share its cores (startCluster; THREADS in the environment overrides).
  const agentThreads = process.env.THREADS ?? threadsPerAgent(agentPorts.length);
  log(
    `chaos: 3 agents (THREADS=${agentThreads}), ${concurrency} concurrent greedy streams of ${maxTokens} tokens ` +
      `for ${durationMs / 1000} s, kill -9 one live agent every ${killEveryMs / 1000} s, restart after ${restartAfterMs / 1000} s`,
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
  // The unbroken answer, before anything is killed: every completed answer must equal it.
  const reference = await referenceAnswer(
    recordingClient(cluster.url, []),
    countRequest(maxTokens),
  );
  log(`reference answer (${reference.length} chars): ${JSON.stringify(reference)}`);

  const tally = emptyTally();
  let resumedStreams = 0;
  let resumedIdentical = 0;
  let resumes = 0;
  const kills: { agent: number; at: number }[] = [];
  const skipped: { agent: number; at: number }[] = [];
  const started = Date.now();
  const end = started + durationMs;
  const restarts: Promise<unknown>[] = [];
  const t = () => Math.round((Date.now() - started) / 1000);

  let turn = 0;
  const killer = setInterval(() => {
    if (Date.now() >= end) return;
    const i = turn++ % agentPorts.length;
    const proc = cluster.agents[i];
    // Only a live process counts as a kill; one not back from its last kill is left alone.
    if (!alive(proc) || !proc?.child.kill('SIGKILL')) {
      skipped.push({ agent: i, at: Date.now() });
      log(`t=${t()} s: agent-${i + 1} is not running; no kill`);
      return;
    }
    kills.push({ agent: i, at: Date.now() });
    log(`t=${t()} s: kill -9 agent-${i + 1}`);
    const restart = new Promise((ok) => setTimeout(ok, restartAfterMs)).then(() => {
      const next = cluster.startAgent(i);
      return waitFor(
        `agent-${i + 1} back`,
        async () => ((await fetch(`${cluster.agentUrls[i]}/healthz`)).ok ? true : undefined),
        120_000,
        [next],
      ).catch((err: unknown) => log(String(err)));
    });
    restarts.push(restart);
  }, killEveryMs);

  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        let resumedHere = 0;
        const client = recordingClient(cluster.url, [], {
          idleTimeoutMs: 15_000,
          onResume: () => resumedHere++,
        });
        const outcome = await streamOnce(client, tally, { maxTokens, reference });
        if (outcome.kind === 'lost') log(`t=${t()} s: lost (${outcome.why})`);
        if (resumedHere === 0) continue;
        resumes += resumedHere;
        resumedStreams++;
        if (outcome.kind === 'completed') resumedIdentical++;
      }
    }),
  );
  clearInterval(killer);
  await Promise.all(restarts);
  await cluster.stop();
  await rm(dataDir, { recursive: true, force: true });

  const completedShare = tally.completed / Math.max(1, tally.sent);
  const completedPercent = Math.round(completedShare * 100_000) / 1000;
  const s = summarize(tally);
  const summary = {
    ...s,
    completedPercent,
    resumedStreams,
    resumedIdentical,
    resumes,
    kills: kills.length,
    killsSkipped: skipped.length,
    durationMs,
    concurrency,
    maxTokens,
    threadsPerAgent: Number(agentThreads),
  };
  const detail = (n: number, by: Record<string, number>) =>
    Object.keys(by).length ? `${n} (${JSON.stringify(by).replaceAll('"', '')})` : String(n);
  const tables = table(
    [
      'sent',
      'completed',
      'explicit errors',
      'lost',
      'completed %',
      'streams resumed on another agent',
      'of which text identical to the unbroken answer',
      'kills of live agents',
      'latency p50 / p99',
    ],
    [
      [
        s.sent,
        s.completed,
        detail(s.explicit, s.codes),
        detail(s.lost, s.lostWhy),
        `${completedPercent}%`,
        resumedStreams,
        resumedIdentical,
        kills.length,
        `${s.latencyMs.p50} ms / ${s.latencyMs.p99} ms`,
      ],
    ],
  );
  log(JSON.stringify(summary, null, 2));
  log(tables);
  const ok = tally.lost === 0 && completedShare >= 0.999;
  log(ok ? 'chaos: PASS' : 'chaos: FAIL (goal: 0 lost, >= 99.9% completed)');
  // The settings given in the environment are part of the command that reproduces the run.
  const settings = Object.entries(process.env)
    .filter(([k]) => k.startsWith('CHAOS_') || k === 'THREADS')
    .map(([k, v]) => `${k}=${v}`);
  const command = [...settings.sort(), 'npm run chaos'].join(' ');
  const path = finishRun(run, { tables, data: summary, output: output.join('\n'), command });
  console.log(`stored ${path}`);
  process.exit(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(2);
});
