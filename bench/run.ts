// `npm run bench [-- name…]`: runs the named benchmarks (default: all) one after another.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Benchmark name → script in bench/. Add an entry per benchmark. */
const BENCHMARKS: Record<string, string> = {
  engines: 'engines.ts',
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(BENCHMARKS);
let failed = 0;
for (const name of names) {
  const script = BENCHMARKS[name];
  if (!script) {
    console.error(`unknown benchmark '${name}' (known: ${Object.keys(BENCHMARKS).join(', ')})`);
    failed++;
    continue;
  }
  console.log(`\n=== bench: ${name} ===`);
  const path = fileURLToPath(new URL(script, import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', path], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
