// The admin CLI on a real SQLite file: a created key authenticates, a revoked one does not.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runAdminCommand } from '../../../control-plane/admin-cli.ts';
import { findApiKey } from '../../../control-plane/api-keys.ts';
import type { Db } from '../../../control-plane/db.ts';
import { openSqlite } from '../../../control-plane/node.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('titan-control-plane keys / join-tokens', () => {
  it('creates, lists and revokes API keys and join tokens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'titan-cli-'));
    dirs.push(dir);
    const env = { DATA_DIR: dir };
    const created = (await runAdminCommand(
      ['keys', 'create', '--name', 'ci', '--rate', '60'],
      env,
    )) as {
      id: string;
      key: string;
      rateLimitPerMinute: number;
    };
    expect(created.key).toMatch(/^sk-titan-/);
    expect(created.rateLimitPerMinute).toBe(60);
    const check = async () => {
      const { db, sqlite } = openSqlite(join(dir, 'control-plane.db'));
      const found = await findApiKey(db as unknown as Db, created.key);
      sqlite.close();
      return found?.id;
    };
    expect(await check()).toBe(created.id);
    const listed = (await runAdminCommand(['keys', 'list'], env)) as { keys: { id: string }[] };
    expect(JSON.stringify(listed)).not.toContain(created.key);
    expect(listed.keys.map((k) => k.id)).toEqual([created.id]);
    expect(await runAdminCommand(['keys', 'revoke', created.id], env)).toEqual({
      id: created.id,
      revoked: true,
    });
    expect(await check()).toBeUndefined();
    await expect(runAdminCommand(['keys', 'revoke', created.id], env)).rejects.toThrow(
      /no live key/,
    );

    const token = (await runAdminCommand(
      ['join-tokens', 'create', '--name', 'rack', '--ttl', '2h'],
      env,
    )) as {
      token: string;
      expiresAt: string;
    };
    expect(token.token).toMatch(/^tj-/);
    expect(token.expiresAt).not.toBeNull();
    await expect(runAdminCommand(['keys', 'create'], env)).rejects.toThrow(/--name/);
    await expect(runAdminCommand(['nonsense'], env)).rejects.toThrow(/Usage/);
  });
});
