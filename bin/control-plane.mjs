#!/usr/bin/env node
// Starts the Node control plane (TypeScript run through tsx, no build step), or runs an admin
// command: `titan-control-plane keys|join-tokens create|revoke|list`.
import { register } from 'tsx/esm/api';

register();
const command = process.argv[2];
if (command === 'keys' || command === 'join-tokens' || command === 'help' || command === '--help') {
  const { runAdminCommand } = await import('../control-plane/admin-cli.ts');
  try {
    console.log(JSON.stringify(await runAdminCommand(process.argv.slice(2), process.env), null, 2));
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  }
} else {
  const { startControlPlane } = await import('../control-plane/node.ts');
  const running = await startControlPlane(process.env);
  const stop = () =>
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
