// `npm run bench [-- name…]`: runs the named benchmarks (default: all) one after another and prints
// their Markdown tables. Each also runs alone: `npx tsx bench/<name>.ts`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** In-process benchmarks return their table; script benchmarks run in a fresh process of their own. */
const BENCHES: Record<string, (() => Promise<string>) | { script: string }> = {
  'scheduler-latency': async () => (await import('./scheduler-latency.ts')).benchSchedulerLatency(),
  'fleet-sim': async () => (await import('./fleet-sim/run.ts')).benchFleetSim(),
  quant: async () => (await import('./quant.ts')).benchQuant(),
  engines: { script: 'engines.ts' },
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(BENCHES);
let failed = 0;
for (const name of names) {
  const bench = BENCHES[name];
  if (!bench) {
    console.error(`unknown benchmark '${name}' (${Object.keys(BENCHES).join(', ')})`);
    failed++;
    continue;
  }
  console.log(`\n## ${name}  (${new Date().toISOString()}, node ${process.version})\n`);
  if (typeof bench === 'function') {
    console.log(await bench());
    continue;
  }
  const path = fileURLToPath(new URL(bench.script, import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', path], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
