// `npm run bench:docs`: rewrites every results block in docs/*.md from the stored result it names,
// so a table in the docs cannot drift from its data. A block is
//   <!-- results: bench/results/<file>.json -->
//   …generated: the result's tables and a "Source:" line…
//   <!-- /results -->
// `--latest` first points each block at the newest stored result of the same benchmark;
// `--check` changes nothing and exits 1 if any block differs from its file (npm test runs it).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { latestResult, ROOT, readResult, sourceLine } from '../bench/results.ts';

const BLOCK = /<!-- results: (\S+) -->\n[\s\S]*?<!-- \/results -->/g;

export function renderBlock(path: string): string {
  const r = readResult(path);
  return `<!-- results: ${path} -->\n${r.tables.trim()}\n\n${sourceLine(path, r)}\n<!-- /results -->`;
}

/** The document with every block regenerated; throws on a block naming a missing file. */
export function regenerate(text: string, opts: { latest?: boolean } = {}): string {
  return text.replace(BLOCK, (_all, path: string) => {
    let target = path;
    if (opts.latest) target = latestResult(readResult(path).name) ?? path;
    if (!existsSync(join(ROOT, target)))
      throw new Error(`results block names a missing file: ${target}`);
    return renderBlock(target);
  });
}

export function docFiles(): string[] {
  return readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes('--check');
  const latest = process.argv.includes('--latest');
  let stale = 0;
  for (const file of docFiles()) {
    const text = readFileSync(file, 'utf8');
    const next = regenerate(text, { latest });
    if (next === text) continue;
    if (check) {
      console.error(`${relative(ROOT, file)}: results blocks differ from their stored results`);
      stale++;
    } else {
      writeFileSync(file, next);
      console.log(`rewrote ${relative(ROOT, file)}`);
    }
  }
  if (stale) {
    console.error('run `npm run bench:docs` to regenerate them');
    process.exit(1);
  }
}
