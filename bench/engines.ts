// Engine benchmark: tokens/s, TTFT and inter-token latency at 1/2/4/8 streams, three ways on the
// same prompts: node-llama-cpp in-process one sequence at a time, in-process batched, and the full
// path (control plane 307 + agent stream) measured at the client.
//   npx tsx bench/engines.ts [--levels 1,2,4,8] [--max-tokens 64] [--context 1024] [--threads n]
//                            [--model file.gguf] [--in-process-only] [--json out.json]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { GenerateRequest } from '../agent/engines/engine.ts';
import { LlamaCppEngine } from '../agent/engines/llama-cpp.ts';
import { DEMO_MODEL, DEMO_MODEL_PATH, startCluster } from '../scripts/cluster.ts';
import { streamChat } from '../scripts/sse.ts';
import { freePort } from '../test/e2e/support/ports.ts';
import { type LevelSummary, markdownTable, type StreamTiming, summarize } from './stream-stats.ts';

const { values } = parseArgs({
  options: {
    levels: { type: 'string', default: '1,2,4,8' },
    'max-tokens': { type: 'string', default: '64' },
    context: { type: 'string', default: '1024' },
    json: { type: 'string' },
    threads: { type: 'string' },
    // Another GGUF of the demo model (e.g. a variant from scripts/make-quant-variants.sh).
    model: { type: 'string' },
    'in-process-only': { type: 'boolean', default: false },
  },
});
const threads = values.threads ? Number(values.threads) : undefined;
const modelPath = values.model ?? DEMO_MODEL_PATH;
const levels = (values.levels ?? '1,2,4,8').split(',').map(Number);
const maxTokens = Number(values['max-tokens']);
const context = Number(values.context);
const slots = Math.max(...levels);

const PROMPTS = [
  'Write a short story about a lighthouse keeper.',
  'Explain how a bicycle works.',
  'Describe the water cycle for a child.',
  'Write a poem about autumn leaves.',
  'Give advice to someone learning to cook.',
  'Describe a busy market in the morning.',
  'Explain why the sky is blue.',
  'Tell a story about a lost dog finding its way home.',
];
const messagesFor = (i: number) => [
  { role: 'user' as const, content: PROMPTS[i % PROMPTS.length] ?? '' },
];
// Greedy, fixed length budget: every path does the same work on the same prompts.
const sampling = { temperature: 0, maxTokens };

async function direct(engine: LlamaCppEngine, i: number): Promise<StreamTiming> {
  const req: GenerateRequest = { model: DEMO_MODEL, messages: messagesFor(i), ...sampling };
  const timing: StreamTiming = {
    startMs: performance.now(),
    tokenTimesMs: [],
    completionTokens: 0,
  };
  for await (const c of engine.generate(req, { signal: AbortSignal.timeout(600_000) })) {
    if (c.type === 'token') timing.tokenTimesMs.push(performance.now());
    else if (c.type === 'done') timing.completionTokens = c.completionTokens;
  }
  return timing;
}

async function viaCluster(url: string, i: number): Promise<StreamTiming> {
  const timing: StreamTiming = {
    startMs: performance.now(),
    tokenTimesMs: [],
    completionTokens: 0,
  };
  const r = await streamChat(
    url,
    { model: DEMO_MODEL, messages: messagesFor(i), temperature: 0, max_tokens: maxTokens },
    () => timing.tokenTimesMs.push(performance.now()),
  );
  if (!r.sawDone) throw new Error('stream ended without [DONE]');
  timing.completionTokens = r.completionTokens;
  return timing;
}

async function level(
  concurrency: number,
  one: (i: number) => Promise<StreamTiming>,
  sequential = false,
): Promise<LevelSummary> {
  const started = performance.now();
  const runs: StreamTiming[] = [];
  if (sequential) for (let i = 0; i < concurrency; i++) runs.push(await one(i));
  else runs.push(...(await Promise.all(Array.from({ length: concurrency }, (_, i) => one(i)))));
  return summarize(concurrency, performance.now() - started, runs);
}

const rows: { path: string; s: LevelSummary }[] = [];
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
console.log(
  `load average before: ${load()}; ${modelPath}, ${slots} slots, ${maxTokens} tokens/stream, ctx ${context}/seq`,
);

// 1 + 2: in process.
const engine = await LlamaCppEngine.create({
  modelPath,
  modelName: DEMO_MODEL,
  sequences: slots,
  contextSizePerSequence: context,
  ...(threads ? { threads } : {}),
});
await direct(engine, 0); // warm-up
for (const c of levels) {
  for (const sequential of [true, false]) {
    const path = sequential ? 'in-process, one at a time' : 'in-process, batched';
    const s = await level(c, (i) => direct(engine, i), sequential);
    rows.push({ path, s });
    console.log(`${path} ×${c}: ${JSON.stringify(s)} (load ${load()})`);
  }
}
await engine.close();

// 3: the full path through real processes.
if (!values['in-process-only']) await fullPath();

async function fullPath() {
  const dataDir = await mkdtemp(join(tmpdir(), 'titan-bench-'));
  const cluster = await startCluster({
    cpPort: await freePort(),
    agentPorts: [await freePort()],
    dataDir,
    joinToken: 'bench-join-token',
    maxConcurrentJobs: slots,
    agentEnv: {
      CONTEXT_SIZE: String(context),
      MODEL_PATH: modelPath,
      ...(threads ? { THREADS: String(threads) } : {}),
    },
  });
  try {
    await viaCluster(cluster.url, 0); // warm-up
    for (const c of levels) {
      const s = await level(c, (i) => viaCluster(cluster.url, i));
      rows.push({ path: 'client → control plane 307 → agent', s });
      console.log(`agent ×${c}: ${JSON.stringify(s)} (load ${load()})`);
    }
  } finally {
    await cluster.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

rows.sort((a, b) => a.s.concurrency - b.s.concurrency);
console.log(`\n${markdownTable(rows)}\n`);
const tps = (path: string, c: number) =>
  rows.find((r) => r.path.startsWith(path) && r.s.concurrency === c)?.s.tokensPerSec ?? Number.NaN;
const top = Math.max(...levels);
const base = Math.min(...levels);
const agentRows = rows.filter((r) => r.path.startsWith('client'));
console.log(`goals (load average after: ${load()}):`);
console.log(
  `- agent ${top} streams vs 1: ${(tps('client', top) / tps('client', base)).toFixed(2)}× (goal ≥ 2.5×); in-process batched: ${(tps('in-process, batched', top) / tps('in-process, batched', base)).toFixed(2)}×`,
);
const four = agentRows.find((r) => r.s.concurrency === 4)?.s;
if (four) {
  console.log(
    `- agent 4 streams: TTFT p95 ${four.ttftP95.toFixed(0)} ms (goal < 500), ITL p95 ${four.itlP95.toFixed(1)} ms (goal < 50)`,
  );
}
for (const c of levels) {
  console.log(
    `- agent / in-process batched tokens/s at ${c}: ${((100 * tps('client', c)) / tps('in-process, batched', c)).toFixed(0)}% (goal ≥ 95%)`,
  );
}
if (values.json) await writeFile(values.json, JSON.stringify(rows, null, 2));
