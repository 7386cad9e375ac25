#!/usr/bin/env node
// `npx agent start`: registers tsx so the TypeScript sources run as they are, then runs the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../agent/cli.ts');
process.exit(await main(process.argv.slice(2)));
