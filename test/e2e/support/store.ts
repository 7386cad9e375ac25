// Keeps a fault test's figures in the results store (bench/results.ts) when FAULTS_RESULTS=1, so
// docs/faults.md can quote them from a file: one table row per scenario, every figure in `data`.
import { finishRun, type RunStart, startRun } from '../../../bench/results.ts';

export type Figures = Record<string, unknown>;

const cell = (v: unknown): string =>
  v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v).replaceAll('|', '/') : String(v);

/** The Markdown table of a fault test's scenarios: the common counts first, the rest after. */
export function faultsTable(scenarios: Record<string, Figures>): string {
  const lines = [
    '| scenario | sent | completed | explicit errors | lost | latency p50 / p99 (ms) | other figures |',
    '|---|---:|---:|---:|---:|---|---|',
  ];
  for (const [name, f] of Object.entries(scenarios)) {
    const { sent, completed, explicit, lost, codes, lostWhy, latencyMs, ...rest } = f as Figures & {
      latencyMs?: { p50: number; p99: number };
    };
    const withDetail = (n: unknown, detail: unknown) =>
      detail && Object.keys(detail as object).length ? `${cell(n)} ${cell(detail)}` : cell(n);
    const other = Object.entries(rest)
      .map(([k, v]) => `${k}: ${cell(v)}`)
      .join('; ');
    lines.push(
      `| ${name} | ${cell(sent)} | ${cell(completed)} | ${withDetail(explicit, codes)} | ` +
        `${withDetail(lost, lostWhy)} | ${latency(latencyMs)} | ${other} |`,
    );
  }
  return lines.join('\n');
}

/** p50 / p99, or nothing where no request was timed. */
const latency = (ms?: { p50: number; p99: number }) =>
  ms && Number.isFinite(ms.p50) ? `${ms.p50} / ${ms.p99}` : '';

export const storing = process.env.FAULTS_RESULTS === '1';

/** Starts a stored run (FAULTS_RESULTS=1) or returns undefined. */
export const startFaults = (name: string): RunStart | undefined =>
  storing ? startRun(name) : undefined;

/** Writes the run's file, says where, and returns its path (nothing without FAULTS_RESULTS=1). */
export function storeFaults(
  run: RunStart | undefined,
  scenarios: Record<string, Figures>,
  testFile: string,
): string | undefined {
  if (!run) return undefined;
  const path = finishRun(run, {
    tables: faultsTable(scenarios),
    data: scenarios,
    command: `FAULTS_RESULTS=1 npx vitest run --project e2e ${testFile}`,
  });
  console.log(`[faults] stored ${path}`);
  return path;
}
