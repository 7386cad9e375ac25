#!/usr/bin/env node
// `npm run dev:worker [-- <wrangler dev options>]`: the Workers control plane on this machine in
// one command. Applies the D1 migrations to the local database, writes a .dev.vars with
// development secrets when there is none, then runs `wrangler dev` (local workerd + local D1).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const DEV_VARS = join(ROOT, '.dev.vars');
const SECRETS = ['ADMIN_KEY', 'JOIN_TOKEN', 'TICKET_PRIVATE_KEY'];

/** The value of `--name <v>` or `--name=<v>` among the arguments, if given. */
function option(args, name) {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return args[i].includes('=') ? args[i].slice(name.length + 1) : args[i + 1];
}

/**
 * `--alg` for the generated key: the TICKET_ALG wrangler.toml pins (the key must be of that
 * kind), else none, and the key is of the default kind (ES256; the Worker infers it from the key).
 */
function algOption() {
  const toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const pinned = /^\s*TICKET_ALG\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  return pinned ? ['--alg', pinned] : [];
}

async function writeDevVars() {
  register();
  const { runAdminCommand } = await import('../control-plane/node/admin-cli.ts');
  const { JOIN_TOKEN_PREFIX } = await import('../control-plane/core/agent-credentials.ts');
  const { newSecret } = await import('../control-plane/core/secrets.ts');
  const pem = await runAdminCommand(['keys', 'generate-ticket-key', ...algOption()], {});
  const adminKey = await runAdminCommand(['keys', 'generate-admin-key'], {});
  const lines = [
    '# Development secrets for `wrangler dev`, written by `npm run dev:worker`. Never deploy them:',
    '# a deployed Worker gets its own with `wrangler secret put` (docs/deploy-cloudflare.md).',
    `ADMIN_KEY=${adminKey}`,
    `JOIN_TOKEN=${newSecret(JOIN_TOKEN_PREFIX)}`,
    `TICKET_PRIVATE_KEY="${pem.trim().replace(/\n/g, '\\n')}"`,
    '',
  ];
  writeFileSync(DEV_VARS, lines.join('\n'), { mode: 0o600, flag: 'wx' });
  console.log(`dev:worker: wrote ${DEV_VARS} (ADMIN_KEY, JOIN_TOKEN, TICKET_PRIVATE_KEY)`);
}

function checkDevVars() {
  const text = readFileSync(DEV_VARS, 'utf8');
  const missing = SECRETS.filter((s) => !new RegExp(`^\\s*${s}\\s*=`, 'm').test(text));
  console.log(`dev:worker: using the existing ${DEV_VARS}`);
  if (missing.length > 0) {
    console.warn(
      `dev:worker: ${DEV_VARS} has no ${missing.join(', ')}; delete it to have one written` +
        (missing.includes('TICKET_PRIVATE_KEY') ? ' (the Worker refuses to serve without it)' : ''),
    );
  }
}

const args = process.argv.slice(2);
const persist = option(args, '--persist-to');
const migrate = spawnSync(
  process.execPath,
  [
    WRANGLER,
    'd1',
    'migrations',
    'apply',
    'DB',
    '--local',
    ...(persist ? ['--persist-to', persist] : []),
  ],
  // CI=true: wrangler applies without asking for a confirmation.
  { cwd: ROOT, stdio: 'inherit', env: { ...process.env, CI: 'true' } },
);
if (migrate.status !== 0) {
  console.error('dev:worker: applying the local D1 migrations failed (see above)');
  process.exit(migrate.status ?? 1);
}
if (existsSync(DEV_VARS)) checkDevVars();
else await writeDevVars();

// wrangler's default "localhost" may be IPv6 only; agents and curl reach 127.0.0.1.
const ip = option(args, '--ip') === undefined ? ['--ip', '127.0.0.1'] : [];
const dev = spawn(process.execPath, [WRANGLER, 'dev', '--local', ...ip, ...args], {
  cwd: ROOT,
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => dev.kill(signal));
dev.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
