// `titan-control-plane keys|join-tokens create|revoke|list`: admin commands on the Node database.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createJoinToken, listJoinTokens, revokeJoinToken } from './agent-credentials.ts';
import { createApiKey, listApiKeys, revokeApiKey } from './api-keys.ts';
import { parseDuration } from './config.ts';
import type { Db } from './db.ts';
import { openSqlite } from './node.ts';

export const ADMIN_USAGE = `Usage:
  titan-control-plane keys create --name <name> [--rate <per-minute>] [--concurrent <n>]
  titan-control-plane keys revoke <id>
  titan-control-plane keys list
  titan-control-plane join-tokens create --name <name> [--ttl 24h]
  titan-control-plane join-tokens revoke <id>
  titan-control-plane join-tokens list

Works on the Node database (DATABASE_PATH, else DATA_DIR/control-plane.db). On Workers use the
admin API: POST/GET/DELETE /admin/api-keys and /admin/join-tokens with Bearer ADMIN_KEY.`;

function positive(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

/** Runs one admin command; returns what to print (JSON) or throws with a message for the user. */
export async function runAdminCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  now = Date.now(),
): Promise<unknown> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string' },
      rate: { type: 'string' },
      concurrent: { type: 'string' },
      ttl: { type: 'string' },
    },
    allowPositionals: true,
  });
  const [what, action, id] = positionals;
  if ((what !== 'keys' && what !== 'join-tokens') || !action) throw new Error(ADMIN_USAGE);
  const path = env.DATABASE_PATH || join(resolve(env.DATA_DIR || '.data'), 'control-plane.db');
  const { db: sqlite, sqlite: handle } = openSqlite(path);
  const db = sqlite as unknown as Db;
  try {
    if (action === 'list') {
      return what === 'keys'
        ? { keys: await listApiKeys(db) }
        : { tokens: await listJoinTokens(db) };
    }
    if (action === 'create') {
      if (!values.name) throw new Error('--name is required');
      if (what === 'keys') {
        const created = await createApiKey(
          db,
          {
            name: values.name,
            rateLimitPerMinute: positive(values.rate, 'rate') ?? null,
            maxConcurrent: positive(values.concurrent, 'concurrent') ?? null,
          },
          now,
        );
        return { ...created.info, key: created.key };
      }
      const ttlMs = values.ttl ? parseDuration(values.ttl, 0, '--ttl') : undefined;
      const created = await createJoinToken(db, { name: values.name, ttlMs }, now);
      return { ...created.info, token: created.token };
    }
    if (action === 'revoke') {
      if (!id) throw new Error('revoke needs an id (see list)');
      const revoked =
        what === 'keys' ? await revokeApiKey(db, id, now) : await revokeJoinToken(db, id, now);
      if (!revoked) throw new Error(`no live ${what === 'keys' ? 'key' : 'join token'} '${id}'`);
      return { id, revoked: true };
    }
    throw new Error(ADMIN_USAGE);
  } finally {
    handle.close();
  }
}
