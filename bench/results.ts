// The results store: every benchmark run keeps its raw output as JSON under bench/results/, with what
// is needed to judge it later (commit, date, machine, load average before and after, command line).
// docs/ quote these files; scripts/bench-docs.ts regenerates the tables in docs/ from them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const RESULTS_DIR = join(ROOT, 'bench', 'results');

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
}

export interface BenchResult {
  name: string;
  commit: string;
  /** Uncommitted changes in the tree when it ran (the commit alone does not reproduce it). */
  dirty: boolean;
  startedAt: string;
  finishedAt: string;
  machine: Machine;
  /** 1-, 5- and 15-minute load averages. */
  loadAverage: { before: number[]; after: number[] };
  command: string;
  /** The Markdown tables the benchmark printed, as docs quote them. */
  tables: string;
  /** Structured figures, as the benchmark reports them. */
  data?: unknown;
  /** Everything the benchmark printed (script benchmarks). */
  output?: string;
}

export interface RunStart {
  name: string;
  startedAt: string;
  loadBefore: number[];
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

export function machine(): Machine {
  const all = cpus();
  return {
    cpuModel: all[0]?.model.trim() ?? 'unknown',
    cores: all.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
  };
}

const roundedLoad = () => loadavg().map((l) => Math.round(l * 100) / 100);

export function startRun(name: string): RunStart {
  return { name, startedAt: new Date().toISOString(), loadBefore: roundedLoad() };
}

/** Writes the result file and returns its path relative to the repository. */
export function finishRun(
  run: RunStart,
  result: { tables: string; data?: unknown; output?: string; command?: string },
): string {
  const commit = git(['rev-parse', '--short=7', 'HEAD']) || 'unknown';
  const record: BenchResult = {
    name: run.name,
    commit,
    dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '',
    startedAt: run.startedAt,
    finishedAt: new Date().toISOString(),
    machine: machine(),
    loadAverage: { before: run.loadBefore, after: roundedLoad() },
    command: result.command ?? commandLine(),
    tables: result.tables,
    ...(result.data === undefined ? {} : { data: result.data }),
    ...(result.output === undefined ? {} : { output: result.output }),
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = run.startedAt.replace(/\.\d+Z$/, 'Z').replaceAll(':', '-');
  const file = join(RESULTS_DIR, `${run.name}-${stamp}-${commit}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return relative(ROOT, file);
}

export function commandLine(): string {
  const npmScript = process.env.npm_lifecycle_event;
  const args = process.argv.slice(2).join(' ');
  return npmScript
    ? `npm run ${npmScript} -- ${args}`.trim()
    : `${process.argv.map((a) => relative(ROOT, a) || a).join(' ')}`;
}

export function readResult(path: string): BenchResult {
  return JSON.parse(readFileSync(resolve(ROOT, path), 'utf8')) as BenchResult;
}

/** The newest stored result of a benchmark (by start time), or undefined. */
export function latestResult(name: string): string | undefined {
  let files: string[];
  try {
    files = readdirSync(RESULTS_DIR);
  } catch {
    return undefined;
  }
  const mine = files
    .filter((f) => f.endsWith('.json') && f.startsWith(`${name}-`))
    .map((f) => join('bench', 'results', f))
    .map((path) => ({ path, at: readResult(path) }))
    .filter((r) => r.at.name === name)
    .sort((a, b) => a.at.startedAt.localeCompare(b.at.startedAt));
  return mine.at(-1)?.path;
}

/** One line saying where a figure comes from, as docs print it under each table. */
export function sourceLine(path: string, r: BenchResult): string {
  const load = `${r.loadAverage.before[0]} → ${r.loadAverage.after[0]}`;
  return (
    `Source: \`${path}\` — commit ${r.commit}${r.dirty ? ' (with uncommitted changes)' : ''}, ` +
    `${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${r.machine.cpuModel} (${r.machine.cores} cores, ` +
    `${r.machine.memoryGiB} GiB), Node ${r.machine.node.replace(/^v/, '')}, load average ${load}; ` +
    `\`${r.command}\`.`
  );
}
