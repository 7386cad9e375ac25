// Quantization benchmark: each variant of the bundled model in a fresh process — file size, estimate, measured memory, tokens/s.
// `npx tsx bench/quant.ts` (make the variants first: scripts/make-quant-variants.sh).
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getLlama, LlamaCompletion, LlamaLogLevel } from 'node-llama-cpp';
import {
  cpuRepackFor,
  estimateMemory,
  type GgufHeader,
  readGgufHeader,
} from '../agent/models/gguf-estimate.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const MODELS = resolve(ROOT, '.cache/models');
const QUANTS = ['Q8_0', 'Q6_K', 'Q5_K_M', 'Q4_K_M', 'Q4_1', 'Q4_0', 'IQ4_XS', 'Q3_K_M', 'Q2_K'];
const CONTEXT = Number(process.env.BENCH_CONTEXT ?? 512);
const SEQUENCES = Number(process.env.BENCH_SEQUENCES ?? 1);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 64);
const THREADS = Number(process.env.BENCH_THREADS ?? 2);

function fileFor(quant: string): string {
  return quant === 'Q4_1'
    ? resolve(MODELS, 'SmolLM2-135M-Instruct.Q4_1.gguf')
    : resolve(MODELS, `SmolLM2-135M-Instruct-${quant}.gguf`);
}

interface ChildResult {
  coldBytes: number;
  warmBytes: number;
  tokensPerSecond: number;
  text: string;
}

/** In a fresh process: load (cold), unload, load again (warm, measured), generate TOKENS greedily. */
async function child(path: string): Promise<ChildResult> {
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    logLevel: LlamaLogLevel.error,
    maxThreads: THREADS,
  });
  const rss = () => process.memoryUsage().rss;
  const load = async () => {
    const model = await llama.loadModel({ modelPath: path });
    const context = await model.createContext({
      sequences: SEQUENCES,
      contextSize: CONTEXT,
      threads: THREADS,
    });
    return { model, context };
  };
  const r0 = rss();
  const cold = await load();
  const coldBytes = rss() - r0;
  await cold.context.dispose();
  await cold.model.dispose();
  const r1 = rss();
  const { model, context } = await load();
  const warmBytes = rss() - r1;
  const sequence = context.getSequence();
  const completion = new LlamaCompletion({ contextSequence: sequence });
  const prompt = 'Once upon a time, in a small village,';
  await completion.generateCompletion(prompt, { maxTokens: 4, temperature: 0 }); // warm the graph
  await sequence.clearHistory();
  let tokens = 0;
  const t0 = performance.now();
  const text = await completion.generateCompletion(prompt, {
    maxTokens: TOKENS,
    temperature: 0,
    onToken: (t) => {
      tokens += t.length;
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  return {
    coldBytes,
    warmBytes,
    tokensPerSecond: tokens / seconds,
    text: `${tokens} tokens: ${text.slice(0, 40)}`,
  };
}

const MiB = (n: number) => (n / 2 ** 20).toFixed(1);
const pct = (n: number) => `${(n * 100).toFixed(0)}%`;

export async function benchQuant(): Promise<string> {
  const run = promisify(execFile);
  const rows: string[] = [];
  let q8: { file: number; mem: number } | undefined;
  for (const quant of QUANTS) {
    const path = fileFor(quant);
    if (!existsSync(path)) {
      rows.push(`| ${quant} | missing (run scripts/make-quant-variants.sh) | | | | | | |`);
      continue;
    }
    const header = await readGgufHeader(path);
    const est = estimateMemory(header, {
      contextSize: CONTEXT,
      sequences: SEQUENCES,
      cpuRepack: cpuRepackFor(process.arch),
    }).totalBytes;
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', path],
      {
        cwd: ROOT,
        maxBuffer: 1 << 20,
      },
    );
    const r = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as ChildResult;
    const file = statSync(path).size;
    if (quant === 'Q8_0') q8 = { file, mem: r.warmBytes };
    const saved = (a: number, b: number | undefined) => (b ? pct(1 - a / b) : '–');
    rows.push(
      `| ${quant} | ${MiB(file)} | ${MiB(est)} | ${MiB(r.warmBytes)} | ${((est / r.warmBytes - 1) * 100).toFixed(1)}% | ${r.tokensPerSecond.toFixed(1)} | ${saved(file, q8?.file)} | ${saved(r.warmBytes, q8?.mem)} |`,
    );
  }
  return [
    `SmolLM2-135M-Instruct, variants requantized from the bundled Q4_1 (llama-quantize --allow-requantize), CPU, ${THREADS} threads, context ${CONTEXT} × ${SEQUENCES}, ${TOKENS} greedy tokens.`,
    '',
    '| quant | file MiB | estimate MiB | measured MiB | estimate error | tokens/s | file saved vs Q8_0 | memory saved vs Q8_0 |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Header-only estimates for a Llama-3-8B shape (all matrices in the main type of each quant), GPU (no repack):',
    '',
    estimate8B(),
  ].join('\n');
}

/** Main ggml type of each quant's big matrices (K_M/K_S mixes approximated by their main type). */
const MAIN_TYPE: Record<string, number> = {
  Q8_0: 8,
  Q6_K: 14,
  Q5_K_M: 13,
  Q4_K_M: 12,
  Q4_0: 2,
  IQ4_XS: 23,
  Q3_K_M: 11,
  Q2_K: 10,
};

/** Header-only estimates for a Llama-3-8B-shaped model (GPU: no repack), context 4096 × 1. */
export function estimate8B(): string {
  const [layers, embd, ffn, heads, kvHeads, vocab] = [32, 4096, 14336, 32, 8, 128256];
  const header = (type: number): GgufHeader => {
    const t = (name: string, dims: number[], ggmlType = type) => ({
      name,
      dimensions: dims,
      ggmlType,
    });
    const tensors = [t('token_embd.weight', [embd, vocab]), t('output.weight', [embd, vocab])];
    for (let i = 0; i < layers; i++) {
      const kv = (embd / heads) * kvHeads;
      tensors.push(
        t(`blk.${i}.attn_q.weight`, [embd, embd]),
        t(`blk.${i}.attn_k.weight`, [embd, kv]),
        t(`blk.${i}.attn_v.weight`, [embd, kv]),
        t(`blk.${i}.attn_output.weight`, [embd, embd]),
        t(`blk.${i}.ffn_gate.weight`, [embd, ffn]),
        t(`blk.${i}.ffn_up.weight`, [embd, ffn]),
        t(`blk.${i}.ffn_down.weight`, [ffn, embd]),
      );
    }
    return {
      architecture: 'llama',
      name: '8b',
      fileType: undefined,
      blockCount: layers,
      embeddingLength: embd,
      headCount: heads,
      headCountKv: kvHeads,
      keyLength: undefined,
      valueLength: undefined,
      vocabSize: vocab,
      feedForwardLength: ffn,
      trainContextLength: 8192,
      tensors,
    };
  };
  const GiB = (n: number) => (n / 2 ** 30).toFixed(2);
  const rows = Object.entries(MAIN_TYPE).map(([q, type]) => ({
    q,
    e: estimateMemory(header(type), { contextSize: 4096, sequences: 1 }),
  }));
  const q8 = rows[0]?.e;
  return [
    '| quant | weights GiB | total GiB (ctx 4096) | weights saved vs Q8_0 | total saved vs Q8_0 |',
    '|---|---|---|---|---|',
    ...rows.map(
      ({ q, e }) =>
        `| ${q} | ${GiB(e.weightsBytes)} | ${GiB(e.totalBytes)} | ${q8 ? pct(1 - e.weightsBytes / q8.weightsBytes) : ''} | ${q8 ? pct(1 - e.totalBytes / q8.totalBytes) : ''} |`,
    ),
  ].join('\n');
}

if (process.argv[2] === '--8b') {
  console.log(estimate8B());
} else if (process.argv[2] === '--child' && process.argv[3]) {
  console.log(JSON.stringify(await child(process.argv[3])));
} else if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  console.log(await benchQuant());
}
