#!/usr/bin/env node
// Starts the Node control plane (TypeScript run through tsx, no build step).
import { register } from 'tsx/esm/api';

register();
const { startControlPlane } = await import('../control-plane/node.ts');
const running = await startControlPlane(process.env);
const stop = () =>
  running.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
