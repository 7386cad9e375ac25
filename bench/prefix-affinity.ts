// Prefix-cache affinity on real agents (docs/adr/0013): three embedded agents with the real model
// sharing this host's cores, a multi-turn chat workload (groups sharing a ~1,000-token system
// prompt, think-time, several conversations in flight) and a no-reuse workload, under MCDA with the
// prefix scorer, MCDA without it, least-loaded and round-robin, interleaved in rounds (the control
// plane restarts with the next policy; its database and the agents stay). Requests go through the
// TypeScript client's native path, which sends /v1/route only the prefix digest.
// Run: npx tsx bench/prefix-affinity.ts [--conversations 24 --turns 6 --groups 4 --rounds 2
//   --no-reuse 12 --max-tokens 24 --cache-sequences 8 --policies 'mcda + prefix,mcda'] [--json path]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TitanClient } from '../client/titan-client.ts';
import { sseData } from '../protocol/framing.ts';
import {
  type Cluster,
  DEMO_MODEL,
  type Proc,
  startCluster,
  startProcess,
  stopProcess,
  waitFor,
} from '../scripts/cluster.ts';
import { freePort } from '../test/e2e/support/ports.ts';
import { percentile } from './stats.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const jsonPath = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const CONVERSATIONS = arg('conversations', 24);
const TURNS = arg('turns', 6);
const GROUPS = arg('groups', 4);
const ROUNDS = arg('rounds', 2);
const NO_REUSE = arg('no-reuse', 12);
const MAX_TOKENS = arg('max-tokens', 24);
const AGENTS = 3;
const SLOTS = 2;
/** `--cache-sequences N`: each agent's context sequences, the slots included (CACHE_SEQUENCES). */
const CACHE_SEQUENCES = Math.max(arg('cache-sequences', SLOTS), SLOTS);

const MCDA_WEIGHTS = 'memory=0.4,slots=0.3,rtt=0.2,performance=0.1';
const ALL_POLICIES: { name: string; env: Record<string, string>; control?: true }[] = [
  { name: 'mcda + prefix', env: {} },
  // With 2 slots per agent the default bound (0.75) keeps the bonus for idle agents only.
  { name: 'mcda + prefix, max load 1', env: { PREFIX_MAX_LOAD: '1' } },
  { name: 'mcda', env: { SCHEDULER_WEIGHTS: MCDA_WEIGHTS } },
  { name: 'least-loaded', env: { SCHEDULER: 'least-loaded' } },
  { name: 'round-robin', env: { SCHEDULER: 'round-robin' } },
  // An A/A control, only when named in --policies: MCDA without affinity a second time, so a run
  // shows how far two identical policies land apart on this shared host (the noise floor).
  { name: 'mcda again', env: { SCHEDULER_WEIGHTS: MCDA_WEIGHTS }, control: true },
];

/** `--policies 'mcda + prefix,mcda'`: a subset, by name (default: all but the control). */
const only = args.includes('--policies')
  ? args[args.indexOf('--policies') + 1]?.split(',')
  : undefined;
const POLICIES = ALL_POLICIES.filter((p) => (only ? only.includes(p.name) : !p.control));

/** A deterministic pseudo-random stream (each phase's texts are its own: no reuse across phases). */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const VOCAB =
  'library river garden engine window market signal harbor planet copper lantern meadow violin forest ticket bridge canvas thunder pocket mirror orchard castle saddle rocket basket candle harvest island jacket kettle ladder marble needle ocean pepper quartz ribbon silver timber umbrella velvet walnut yellow zebra anchor button cotton desert falcon glacier hammer'.split(
    ' ',
  );
function words(random: () => number, n: number): string {
  return Array.from({ length: n }, () => VOCAB[Math.floor(random() * VOCAB.length)]).join(' ');
}
/** ~1,000 tokens of instructions, distinct per seed. */
function systemPrompt(seed: number): string {
  const random = rng(seed);
  return `You are helper ${seed}. Follow these notes. ${words(random, 700)}. Answer in one short sentence.`;
}

type Message = { role: string; content: string };
interface Sample {
  workload: 'multi-turn' | 'no-reuse';
  turn: number;
  agent: string;
  ttftMs: number;
  promptTokens: number;
  cachedTokens: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function turn(client: TitanClient, messages: Message[]) {
  const started = performance.now();
  const { response, agentId } = await client.request('/v1/chat/completions', {
    model: DEMO_MODEL,
    messages,
    max_tokens: MAX_TOKENS,
    temperature: 0.7,
    stream: true,
    stream_options: { include_usage: true },
  });
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
  let text = '';
  let ttftMs = Number.NaN;
  let usage: { prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } } = {};
  for await (const data of sseData(response.body)) {
    if (data === '[DONE]') break;
    const chunk = JSON.parse(data) as {
      choices: { delta?: { content?: string } }[];
      usage?: typeof usage;
    };
    const piece = chunk.choices[0]?.delta?.content ?? '';
    if (piece && Number.isNaN(ttftMs)) ttftMs = performance.now() - started;
    text += piece;
    if (chunk.usage) usage = chunk.usage;
  }
  return {
    text,
    agent: agentId,
    ttftMs,
    promptTokens: usage.prompt_tokens ?? 0,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
  };
}

/** One phase: the multi-turn workload, then the no-reuse one; texts seeded by `phase`. */
async function runPhase(client: TitanClient, phase: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const random = rng(phase * 7919);
  const systems = Array.from({ length: GROUPS }, (_, g) => systemPrompt(phase * 100 + g));
  await Promise.all(
    Array.from({ length: CONVERSATIONS }, async (_, c) => {
      // Arrivals spread over the first seconds; think-time of 1 to 3 s between turns.
      await sleep(c * 700 + random() * 500);
      const messages: Message[] = [{ role: 'system', content: systems[c % GROUPS] as string }];
      for (let t = 0; t < TURNS; t++) {
        messages.push({ role: 'user', content: `Visitor ${c} asks: ${words(random, 12)}?` });
        const r = await turn(client, messages);
        samples.push({ workload: 'multi-turn', turn: t, ...r });
        messages.push({ role: 'assistant', content: r.text });
        await sleep(1000 + random() * 2000);
      }
    }),
  );
  await Promise.all(
    Array.from({ length: NO_REUSE }, async (_, i) => {
      await sleep(i * 1200);
      const messages = [
        { role: 'system', content: systemPrompt(phase * 100 + 50 + i) },
        { role: 'user', content: `Question: ${words(random, 12)}?` },
      ];
      const r = await turn(client, messages);
      samples.push({ workload: 'no-reuse', turn: 0, ...r });
    }),
  );
  return samples.map(({ text: _, ...s }: Sample & { text?: string }) => s);
}

/** Counts rows the control plane writes, per table, with triggers in its SQLite database. */
function rowCounter(path: string) {
  const db = new Database(path);
  db.pragma('busy_timeout = 10000');
  db.exec('CREATE TABLE IF NOT EXISTS bench_rows (tbl TEXT PRIMARY KEY, n INTEGER NOT NULL)');
  for (const t of ['agents', 'tickets', 'agent_models']) {
    db.prepare('INSERT OR IGNORE INTO bench_rows VALUES (?, 0)').run(t);
    for (const op of ['INSERT', 'UPDATE', 'DELETE']) {
      db.exec(`CREATE TRIGGER IF NOT EXISTS bench_${t}_${op} AFTER ${op} ON ${t} FOR EACH ROW
        BEGIN UPDATE bench_rows SET n = n + 1 WHERE tbl = '${t}'; END`);
    }
  }
  return {
    read: () =>
      Object.fromEntries(
        (db.prepare('SELECT tbl, n FROM bench_rows').all() as { tbl: string; n: number }[]).map(
          (r) => [r.tbl, r.n],
        ),
      ) as Record<string, number>,
    close: () => db.close(),
  };
}

const dataDir = await mkdtemp(join(tmpdir(), 'titan-bench-prefix-'));
const cpPort = await freePort();
const agentPorts = [await freePort(), await freePort(), await freePort()];
const cpEnv = (policy: Record<string, string>) => ({
  PORT: String(cpPort),
  HOST: '127.0.0.1',
  DATA_DIR: dataDir,
  JOIN_TOKEN: 'bench-join-token',
  // The Node defaults, so rows per hour are the Node figures of ADR 0003.
  HEARTBEAT_INTERVAL: '5s',
  AUTH_MODE: 'development',
  ...policy,
});
let cluster: Cluster | undefined;
let cp: Proc | undefined;
const phases: {
  round: number;
  policy: string;
  seconds: number;
  rows: Record<string, number>;
  samples: Sample[];
}[] = [];
try {
  cluster = await startCluster({
    cpPort,
    agentPorts,
    dataDir,
    joinToken: 'bench-join-token',
    maxConcurrentJobs: SLOTS,
    agentEnv: { CACHE_SEQUENCES: String(CACHE_SEQUENCES) },
    cpEnv: cpEnv((POLICIES[0] as (typeof POLICIES)[number]).env),
  });
  cp = cluster.controlPlane;
  const rows = rowCounter(join(dataDir, 'control-plane.db'));
  const client = new TitanClient({
    baseUrl: cluster.url,
    firstTokenTimeoutMs: 90_000,
    deadlineMs: 300_000,
  });
  let phase = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Rotated each round, so no policy always runs first or after the same one.
    const order = POLICIES.map((_, i) => POLICIES[(i + round) % POLICIES.length]);
    for (const policy of order) {
      if (!policy) continue;
      if (phase > 0) {
        await stopProcess(cp);
        cp = startProcess('control-plane', 'bin/control-plane.mjs', [], cpEnv(policy.env));
        const url = cluster.url;
        await waitFor(
          'control plane /healthz',
          async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined),
          60_000,
          [cp],
        );
      }
      phase++;
      const before = rows.read();
      const started = performance.now();
      const samples = await runPhase(client, phase);
      const seconds = (performance.now() - started) / 1000;
      const after = rows.read();
      const delta = Object.fromEntries(
        Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]),
      );
      phases.push({ round, policy: policy.name, seconds, rows: delta, samples });
      console.error(
        `round ${round + 1} ${policy.name}: ${samples.length} requests in ${seconds.toFixed(0)} s`,
      );
    }
  }
  rows.close();
} finally {
  if (cluster) await Promise.all(cluster.agents.map((a) => stopProcess(a)));
  if (cp) await stopProcess(cp);
  await rm(dataDir, { recursive: true, force: true });
}

const fmt = (x: number) => (Number.isFinite(x) ? Math.round(x).toString() : '–');
interface Summary {
  policy: string;
  workload: string;
  n: number;
  ttftP50: number;
  ttftP95: number;
  promptTokens: number;
  cachedTokens: number;
  evaluated: number;
  perAgent: Record<string, number>;
  maxShareOfFair: number;
  rowsPerHour: number;
  agentRowsPerHour: number;
}
const summaries: Summary[] = [];
for (const policy of POLICIES) {
  const mine = phases.filter((p) => p.policy === policy.name);
  const seconds = mine.reduce((s, p) => s + p.seconds, 0);
  const rowsAll = mine.reduce((s, p) => s + Object.values(p.rows).reduce((a, b) => a + b, 0), 0);
  const rowsAgents = mine.reduce((s, p) => s + (p.rows.agents ?? 0), 0);
  for (const workload of ['multi-turn', 'no-reuse'] as const) {
    const s = mine.flatMap((p) => p.samples).filter((x) => x.workload === workload);
    const ttft = s
      .map((x) => x.ttftMs)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const perAgent: Record<string, number> = {};
    for (const x of s) perAgent[x.agent] = (perAgent[x.agent] ?? 0) + 1;
    const fair = s.length / AGENTS;
    const promptTokens = s.reduce((a, x) => a + x.promptTokens, 0);
    const cachedTokens = s.reduce((a, x) => a + x.cachedTokens, 0);
    summaries.push({
      policy: policy.name,
      workload,
      n: s.length,
      ttftP50: percentile(ttft, 50),
      ttftP95: percentile(ttft, 95),
      promptTokens,
      cachedTokens,
      evaluated: promptTokens - cachedTokens,
      perAgent,
      maxShareOfFair: fair > 0 ? Math.max(...Object.values(perAgent)) / fair : 0,
      rowsPerHour: seconds > 0 ? (rowsAll * 3600) / seconds : 0,
      agentRowsPerHour: seconds > 0 ? (rowsAgents * 3600) / seconds : 0,
    });
  }
}

console.log(
  `\n${CONVERSATIONS} conversations × ${TURNS} turns in ${GROUPS} groups sharing a system prompt, ` +
    `${NO_REUSE} no-reuse requests, ${ROUNDS} rounds interleaved; ${AGENTS} embedded agents × ` +
    `${SLOTS} slots and ${CACHE_SEQUENCES} cached sequences on one host; ${MAX_TOKENS} tokens per answer.\n`,
);
console.log(
  '| workload | policy | requests | TTFT p50 ms | TTFT p95 ms | prompt tokens | reused | evaluated | requests per agent | max / fair share | rows/h (all) | rows/h (agents table) |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const s of summaries) {
  const agents = Object.keys(s.perAgent)
    .sort()
    .map((a) => s.perAgent[a])
    .join(' / ');
  console.log(
    `| ${s.workload} | ${s.policy} | ${s.n} | ${fmt(s.ttftP50)} | ${fmt(s.ttftP95)} | ${s.promptTokens} | ${s.cachedTokens} | ${s.evaluated} | ${agents} | ${s.maxShareOfFair.toFixed(2)} | ${fmt(s.rowsPerHour)} | ${fmt(s.agentRowsPerHour)} |`,
  );
}
const find = (policy: string, workload: string) =>
  summaries.find((s) => s.policy === policy && s.workload === workload) as Summary;
const on = find('mcda + prefix', 'multi-turn');
const off = find('mcda', 'multi-turn');
const onNo = find('mcda + prefix', 'no-reuse');
const offNo = find('mcda', 'no-reuse');
/** A goal is judged only where both sides ran (a run may leave a workload out: --no-reuse 0). */
const judged = (met: boolean, ...sides: (Summary | undefined)[]): boolean | null =>
  sides.every((side) => side && side.n > 0) ? met : null;
const goals = [
  [
    'multi-turn TTFT p50 ≤ ½ of MCDA without affinity',
    judged(on?.ttftP50 <= off?.ttftP50 / 2, on, off),
    `${fmt(on.ttftP50)} vs ${fmt(off.ttftP50)} ms`,
  ],
  [
    'multi-turn prompt tokens evaluated down ≥ 60%',
    judged(on?.evaluated <= 0.4 * off?.evaluated, on, off),
    `${on.evaluated} vs ${off.evaluated} (${fmt(100 * (1 - on.evaluated / Math.max(1, off.evaluated)))}% down)`,
  ],
  [
    'no-reuse TTFT p50 no worse than 5%',
    judged(onNo?.ttftP50 <= 1.05 * offNo?.ttftP50, onNo, offNo),
    `${fmt(onNo.ttftP50)} vs ${fmt(offNo.ttftP50)} ms`,
  ],
  [
    'no agent above 1.5× its fair share (mcda + prefix)',
    judged(on?.maxShareOfFair <= 1.5 && onNo?.maxShareOfFair <= 1.5, on, onNo),
    `multi-turn ${on.maxShareOfFair.toFixed(2)}, no-reuse ${onNo.maxShareOfFair.toFixed(2)}`,
  ],
] as const;
console.log('\n| goal | result | figures |\n|---|---|---|');
for (const [goal, met, figures] of goals)
  console.log(
    `| ${goal} | ${met === null ? 'not measured' : met ? 'met' : 'not met'} | ${figures} |`,
  );

if (jsonPath) {
  await writeFile(
    jsonPath,
    JSON.stringify({
      settings: {
        CONVERSATIONS,
        TURNS,
        GROUPS,
        ROUNDS,
        NO_REUSE,
        MAX_TOKENS,
        AGENTS,
        SLOTS,
        CACHE_SEQUENCES,
      },
      summaries,
      goals: goals.map(([goal, met, figures]) => ({ goal, met, figures })),
      phases,
    }),
  );
}
