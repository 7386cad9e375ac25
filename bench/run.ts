// `npm run bench -- <name> [args…]`: runs one benchmark (or, with no name, each in turn without
// arguments), prints its Markdown tables and stores its raw output under bench/results/
// (bench/results.ts). Each also runs alone: `npx tsx bench/<name>.ts`, which stores nothing.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finishRun, startRun } from './results.ts';

interface ScriptBench {
  script: string;
  /** The flag through which the script writes its structured figures, if it has one. */
  jsonFlag?: string;
}

/** In-process benchmarks return their tables; script benchmarks run in a fresh process of their own. */
const BENCHES: Record<string, (() => Promise<string>) | ScriptBench> = {
  'scheduler-latency': async () => (await import('./scheduler-latency.ts')).benchSchedulerLatency(),
  'fleet-sim': async () => (await import('./fleet-sim/run.ts')).benchFleetSim(),
  'fleet-sim-prefix': async () => (await import('./fleet-sim/prefix-run.ts')).benchFleetSimPrefix(),
  quant: async () => (await import('./quant.ts')).benchQuant(),
  // Header-only memory estimates for a Llama-3-8B shape (no model is loaded).
  'quant-8b': async () => (await import('./quant.ts')).estimate8B(),
  tickets: { script: 'tickets.ts' },
  engines: { script: 'engines.ts', jsonFlag: '--json' },
  // Bare llama-server vs the agent's two engines through the 307 (issue 17, ADR 0019).
  'engines-vs-server': { script: 'engines-vs-server.ts', jsonFlag: '--json' },
  // The agent's CPU per relayed token in front of a stand-in OpenAI upstream (no engine running).
  'relay-cpu': { script: 'relay-cpu.ts', jsonFlag: '--json' },
  'live-fleet': { script: 'live-fleet.ts', jsonFlag: '--json' },
  // Real agents and the real model (minutes): run it under the shared heavy lock.
  'prefix-affinity': { script: 'prefix-affinity.ts', jsonFlag: '--json' },
  // The dashboard's CPU cost to the Node control plane (needs Chromium).
  'dashboard-cost': { script: 'dashboard-cost.ts', jsonFlag: '--json' },
  // npm pack + installs into empty folders (minutes; the npm cache makes it mostly disk).
  packages: { script: 'packages.ts', jsonFlag: '--json' },
};

/** Runs a script, passing its output through, and returns everything it printed. */
function runScript(
  path: string,
  args: string[],
): Promise<{ status: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => {
      process.stdout.write(c);
      output += c;
    });
    child.stderr.on('data', (c) => {
      process.stderr.write(c);
      output += c;
    });
    child.on('close', (status) => done({ status, output }));
  });
}

/** The tables (and the lines after the first one) of a script's output. */
function tablesOf(output: string): string {
  const lines = output.split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  return first < 0 ? '' : lines.slice(first).join('\n').trim();
}

async function runBench(name: string, args: string[]): Promise<boolean> {
  const bench = BENCHES[name];
  if (!bench) {
    console.error(`unknown benchmark '${name}' (${Object.keys(BENCHES).join(', ')})`);
    return false;
  }
  console.log(`\n## ${name}  (${new Date().toISOString()}, node ${process.version})\n`);
  const run = startRun(name);
  const command = `npm run bench -- ${[name, ...args].join(' ')}`;
  if (typeof bench === 'function') {
    const tables = await bench();
    console.log(tables);
    console.log(`\nstored: ${finishRun(run, { tables, command })}`);
    return true;
  }
  const dir = await mkdtemp(join(tmpdir(), 'titan-bench-'));
  try {
    const json = join(dir, 'data.json');
    const extra = bench.jsonFlag ? [bench.jsonFlag, json] : [];
    const path = fileURLToPath(new URL(bench.script, import.meta.url));
    const r = await runScript(path, [...args, ...extra]);
    if (r.status !== 0) {
      console.error(`${name} exited ${r.status}; nothing stored`);
      return false;
    }
    const data = bench.jsonFlag ? JSON.parse(await readFile(json, 'utf8')) : undefined;
    const stored = finishRun(run, { tables: tablesOf(r.output), data, output: r.output, command });
    console.log(`\nstored: ${stored}`);
    return true;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const [name, ...args] = process.argv.slice(2);
if (name) process.exit((await runBench(name, args)) ? 0 : 1);
let failed = 0;
for (const each of Object.keys(BENCHES)) if (!(await runBench(each, []))) failed++;
process.exit(failed ? 1 : 0);
