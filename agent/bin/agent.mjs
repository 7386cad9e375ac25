#!/usr/bin/env node
// `agent …`: the installed package runs its compiled JavaScript (dist/cli.js); in a checkout,
// where the TypeScript sources sit beside this folder, tsx (a dev dependency) runs them instead,
// so a stale dist/ is never used there.
import { existsSync } from 'node:fs';

const sources = new URL('../cli.ts', import.meta.url);
let main;
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(sources.href));
} else {
  ({ main } = await import('../dist/cli.js'));
}
process.exit(await main(process.argv.slice(2)));
