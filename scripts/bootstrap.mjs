#!/usr/bin/env node
// `npm start` / `npm test` on a fresh clone: install pinned dependencies and the demo model, then run.
// Plain Node with no dependencies, because node_modules may not exist yet.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchModel, ROOT } from './fetch-model.mjs';

const STAMP = join(ROOT, 'node_modules', '.titan-installed');

function ensureDependencies() {
  const lock = createHash('sha256')
    .update(readFileSync(join(ROOT, 'package-lock.json')))
    .digest('hex');
  if (existsSync(STAMP) && readFileSync(STAMP, 'utf8') === lock) return;
  console.log('[setup] installing dependencies (npm ci, pinned by package-lock.json)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  writeFileSync(STAMP, lock);
}

function run(cmd, args) {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

const mode = process.argv[2];
ensureDependencies();
await fetchModel();
if (mode === 'start')
  run(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/start.ts', ...process.argv.slice(3)]);
else if (mode === 'test') run('npm', ['run', 'check']);
else {
  console.error('usage: bootstrap.mjs start|test');
  process.exit(2);
}
