// Issue 17's comparison: bare llama-server vs an agent with ENGINE=llama-server (its managed child)
// vs an agent with the embedded engine (ENGINE=llama-cpp), both agents through the control plane's
// 307. Closed-loop fetch client (scripts/sse.ts), interleaved rounds, streaming chat, temperature 0,
// a 105-token prompt (llama-server's count), 64 output tokens; the agent process's CPU seconds (/proc/<pid>/stat, the agent
// process, not its supervisor nor its llama-server child) per streamed token.
//   npx tsx bench/engines-vs-server.ts [--rounds 2] [--levels 1,4] [--requests 8] [--threads 2]
//                                      [--max-tokens 64] [--json out.json]
// Needs LLAMA_SERVER_BIN (or the build cache's llama-server: scripts/build-llama-cpp.sh llama-server).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { findLlamaServer, llamaServerArgs } from '../agent/engines/llama-server-process.ts';
import {
  type Cluster,
  DEMO_MODEL,
  DEMO_MODEL_PATH,
  spawnProcess,
  startCluster,
  stopProcess,
  waitFor,
} from '../scripts/cluster.ts';
import { streamChat } from '../scripts/sse.ts';
import { freePort } from '../test/e2e/support/ports.ts';
import { type LevelSummary, markdownTable, type StreamTiming, summarize } from './stream-stats.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    levels: { type: 'string', default: '1,4' },
    // Streams per client at each level (closed loop: each client sends its next when one ends).
    requests: { type: 'string', default: '8' },
    threads: { type: 'string', default: String(availableParallelism()) },
    'max-tokens': { type: 'string', default: '64' },
    context: { type: 'string', default: '1024' },
    json: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const levels = (values.levels ?? '1,4').split(',').map(Number);
const requests = Number(values.requests);
const threads = Number(values.threads);
const maxTokens = Number(values['max-tokens']);
const context = Number(values.context);
const slots = Math.max(4, ...levels);
const binary = process.env.LLAMA_SERVER_BIN ?? findLlamaServer(undefined);
if (!binary) throw new Error('no llama-server: run scripts/build-llama-cpp.sh llama-server first');

// 105 prompt tokens with the GGUF's chat template, as llama-server counts them (printed at the start).
const SYSTEM =
  'You are a careful storyteller. You write long, vivid stories in plain English, with concrete ' +
  'details about places, people, weather, food and sounds, and you never stop early.';
const USER =
  'Write a long story about a lighthouse keeper on a small northern island who finds a message in ' +
  'a bottle, describes the storm that follows, the ship she guides to safety, the village that ' +
  'thanks her the next morning, and what she decides to do with the message afterwards.';
const body = {
  model: DEMO_MODEL,
  messages: [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: USER },
  ],
  temperature: 0,
  max_tokens: maxTokens,
};

/** utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15, clock ticks). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // CLK_TCK is 100 on Linux
}

let promptTokens = 0;
async function one(url: string): Promise<StreamTiming> {
  const timing: StreamTiming = {
    startMs: performance.now(),
    tokenTimesMs: [],
    completionTokens: 0,
  };
  const r = await streamChat(url, body, () => timing.tokenTimesMs.push(performance.now()));
  if (!r.sawDone) throw new Error('stream ended without [DONE]');
  timing.completionTokens = r.completionTokens;
  return timing;
}

interface Row {
  path: string;
  round: number;
  s: LevelSummary;
  /** Agent process CPU per streamed token, ms (agents only). */
  agentCpuMsPerToken?: number;
}

async function level(url: string, clients: number, agentPid?: number) {
  const cpu0 = agentPid ? cpuSeconds(agentPid) : 0;
  const started = performance.now();
  const runs: StreamTiming[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = 0; i < requests; i++) runs.push(await one(url));
    }),
  );
  const s = summarize(clients, performance.now() - started, runs);
  const cpu = agentPid ? ((cpuSeconds(agentPid) - cpu0) * 1000) / s.tokens : undefined;
  return { s, cpu };
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(
  `load average before: ${load()}; ${binary}; ${DEMO_MODEL_PATH}; ${threads} threads, ${slots} slots, ${maxTokens} tokens/stream, ${requests} streams per client`,
);

const dirs: string[] = [];
const clusters: Cluster[] = [];
async function agentCluster(env: Record<string, string>): Promise<Cluster> {
  const dataDir = await mkdtemp(join(tmpdir(), 'titan-bench-'));
  dirs.push(dataDir);
  const c = await startCluster({
    cpPort: await freePort(),
    agentPorts: [await freePort()],
    dataDir,
    joinToken: 'bench-join-token',
    maxConcurrentJobs: slots,
    agentEnv: { CONTEXT_SIZE: String(context), THREADS: String(threads), ...env },
  });
  clusters.push(c);
  return c;
}

const port = await freePort();
const bare = spawnProcess(
  'llama-server',
  binary,
  llamaServerArgs({
    modelPath: DEMO_MODEL_PATH,
    modelName: DEMO_MODEL,
    port,
    slots,
    contextSizePerSequence: context,
    threads,
  }),
  {},
);
const rows: Row[] = [];
try {
  const bareUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    'llama-server',
    async () => ((await fetch(`${bareUrl}/health`)).ok ? true : undefined),
    120_000,
    [bare],
  );
  const managed = await agentCluster({ ENGINE: 'llama-server', LLAMA_SERVER: binary });
  const embedded = await agentCluster({ ENGINE: 'llama-cpp' });
  const targets = [
    { path: 'bare llama-server', url: bareUrl, pid: () => undefined },
    {
      path: 'agent ENGINE=llama-server via 307',
      url: managed.url,
      pid: () => managed.agents[0]?.agentPid,
    },
    {
      path: 'agent ENGINE=llama-cpp via 307',
      url: embedded.url,
      pid: () => embedded.agents[0]?.agentPid,
    },
  ];
  for (const t of targets) await one(t.url); // warm-up
  const usage = await fetch(`${bareUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, max_tokens: 1 }),
  }).then((r) => r.json() as Promise<{ usage?: { prompt_tokens?: number } }>);
  promptTokens = usage.usage?.prompt_tokens ?? 0;
  console.log(`prompt tokens (llama-server): ${promptTokens}`);
  for (let round = 1; round <= rounds; round++) {
    for (const c of levels) {
      // Interleaved: each round runs every path at each level, in a rotating order.
      const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
      for (const t of order) {
        const { s, cpu } = await level(t.url, c, t.pid());
        rows.push({
          path: t.path,
          round,
          s,
          ...(cpu !== undefined ? { agentCpuMsPerToken: cpu } : {}),
        });
        console.log(
          `round ${round} ${t.path} ×${c}: ${s.tokensPerSec.toFixed(1)} tok/s, TTFT p50 ${s.ttftP50.toFixed(1)} ms, ITL p50 ${s.itlP50.toFixed(2)} ms${cpu !== undefined ? `, agent CPU ${cpu.toFixed(3)} ms/token` : ''} (load ${load()})`,
        );
      }
    }
  }
} finally {
  await Promise.all(clusters.map((c) => c.stop()));
  await stopProcess(bare);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const cpuCol = rows.map((r) => ({
  path: `${r.path} (round ${r.round})`,
  s: r.s,
}));
console.log(`\n${markdownTable(cpuCol)}\n`);
console.log('| path | streams | agent CPU ms per streamed token (per round) |\n|---|---:|---|');
for (const path of [...new Set(rows.map((r) => r.path))].filter((p) => p.startsWith('agent'))) {
  for (const c of levels) {
    const cpu = rows
      .filter((r) => r.path === path && r.s.concurrency === c)
      .map((r) => r.agentCpuMsPerToken ?? Number.NaN);
    console.log(`| ${path} | ${c} | ${cpu.map((x) => x.toFixed(3)).join(' / ')} |`);
  }
}
console.log(
  `\ngoals (means over rounds; load average after: ${load()}; prompt ${promptTokens} tokens):`,
);
const agg = (path: string, c: number) => {
  const rs = rows.filter((r) => r.path === path && r.s.concurrency === c).map((r) => r.s);
  return {
    tps: mean(rs.map((s) => s.tokensPerSec)),
    itl: mean(rs.map((s) => s.itlP50)),
    ttft: mean(rs.map((s) => s.ttftP50)),
  };
};
for (const path of ['agent ENGINE=llama-server via 307', 'agent ENGINE=llama-cpp via 307']) {
  for (const c of levels) {
    const a = agg(path, c);
    const b = agg('bare llama-server', c);
    console.log(
      `- ${path} ×${c}: tokens/s ${((100 * a.tps) / b.tps).toFixed(1)}% of bare (goal ≥ 95%), ITL p50 ${(100 * (a.itl / b.itl - 1)).toFixed(1)}% (goal ≤ 5%), TTFT p50 ${(a.ttft - b.ttft).toFixed(1)} ms more (goal ≤ 5 ms at 1 stream)`,
    );
  }
}
if (values.json)
  await writeFile(values.json, JSON.stringify({ promptTokens, threads, slots, rows }, null, 2));
