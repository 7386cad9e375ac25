// Per-stream latency and throughput summaries for the engines benchmark: TTFT, ITL, tokens/s.
import { percentile as sortedPercentile } from './stats.ts';

/** Nearest-rank percentile of unsorted `values`; NaN when empty. */
function percentile(values: number[], p: number): number {
  return sortedPercentile(
    [...values].sort((a, b) => a - b),
    p,
  );
}

/** One stream as the client saw it: start, then the arrival time of each token chunk (ms). */
export interface StreamTiming {
  startMs: number;
  tokenTimesMs: number[];
  completionTokens: number;
}

export interface LevelSummary {
  concurrency: number;
  streams: number;
  tokens: number;
  wallMs: number;
  tokensPerSec: number;
  ttftP50: number;
  ttftP95: number;
  itlP50: number;
  itlP95: number;
}

export function summarize(concurrency: number, wallMs: number, runs: StreamTiming[]): LevelSummary {
  const ttft = runs
    .filter((r) => r.tokenTimesMs.length > 0)
    .map((r) => (r.tokenTimesMs[0] as number) - r.startMs);
  const itl: number[] = [];
  for (const r of runs) {
    for (let i = 1; i < r.tokenTimesMs.length; i++) {
      itl.push((r.tokenTimesMs[i] as number) - (r.tokenTimesMs[i - 1] as number));
    }
  }
  const tokens = runs.reduce((s, r) => s + r.completionTokens, 0);
  return {
    concurrency,
    streams: runs.length,
    tokens,
    wallMs,
    tokensPerSec: tokens / (wallMs / 1000),
    ttftP50: percentile(ttft, 50),
    ttftP95: percentile(ttft, 95),
    itlP50: percentile(itl, 50),
    itlP95: percentile(itl, 95),
  };
}

const f = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

export function markdownTable(rows: { path: string; s: LevelSummary }[]): string {
  const head =
    '| path | streams | tokens | wall s | tokens/s | TTFT p50 ms | TTFT p95 ms | ITL p50 ms | ITL p95 ms |\n' +
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|';
  const body = rows.map(
    ({ path, s }) =>
      `| ${path} | ${s.concurrency} | ${s.tokens} | ${f(s.wallMs / 1000, 1)} | ${f(s.tokensPerSec, 1)} | ${f(s.ttftP50)} | ${f(s.ttftP95)} | ${f(s.itlP50, 1)} | ${f(s.itlP95, 1)} |`,
  );
  return [head, ...body].join('\n');
}
