#!/usr/bin/env node
// Starts the Node control plane (TypeScript run through tsx, no build step), or runs an admin
// command: `titan-control-plane agents|keys|join-tokens|requests …` (see --help).
import { register } from 'tsx/esm/api';

register();
const command = process.argv[2];
if (['--version', '-V', 'version'].includes(command ?? '')) {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  console.log(`titan-control-plane ${pkg.version}`);
  process.exit(0);
}
const admin = ['agents', 'keys', 'join-tokens', 'requests', 'help', '--help', '-h'];
if (admin.includes(command ?? '')) {
  const { runAdminCommand, UsageError } = await import('../control-plane/node/admin-cli.ts');
  try {
    const out = await runAdminCommand(process.argv.slice(2), process.env);
    console.log(typeof out === 'string' ? out.trimEnd() : JSON.stringify(out, null, 2));
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(err instanceof UsageError ? 2 : 1);
  }
} else if (command === undefined || command === 'start') {
  const { startControlPlane } = await import('../control-plane/node/main.ts');
  const running = await startControlPlane(process.env);
  const stop = () =>
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} else {
  console.error(`Unknown command '${command}' (see titan-control-plane --help)`);
  process.exit(2);
}
