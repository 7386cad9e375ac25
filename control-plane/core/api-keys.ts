// Client API keys: created once (the secret is shown only then), stored as SHA-256, revocable.
import { and, eq, isNull } from 'drizzle-orm';
import { type ApiKeyRow, apiKeys } from '../../schema/tables.ts';
import type { Db } from './db.ts';
import { newId, newSecret, sha256Hex } from './secrets.ts';

export const API_KEY_PREFIX = 'sk-titan-';

export interface ApiKeyInfo {
  id: string;
  name: string;
  createdAt: string;
  revokedAt: string | null;
  rateLimitPerMinute: number | null;
  maxConcurrent: number | null;
}

export function describeApiKey(row: ApiKeyRow): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    createdAt: new Date(row.createdAt).toISOString(),
    revokedAt: row.revokedAt === null ? null : new Date(row.revokedAt).toISOString(),
    rateLimitPerMinute: row.rateLimitPerMinute,
    maxConcurrent: row.maxConcurrent,
  };
}

export async function createApiKey(
  db: Db,
  opts: { name: string; rateLimitPerMinute?: number | null; maxConcurrent?: number | null },
  now: number,
): Promise<{ key: string; info: ApiKeyInfo }> {
  const key = newSecret(API_KEY_PREFIX);
  const row: ApiKeyRow = {
    id: newId('key_'),
    hash: await sha256Hex(key),
    name: opts.name,
    createdAt: now,
    revokedAt: null,
    rateLimitPerMinute: opts.rateLimitPerMinute ?? null,
    maxConcurrent: opts.maxConcurrent ?? null,
  };
  await db.insert(apiKeys).values(row);
  return { key, info: describeApiKey(row) };
}

/** True when a live key was revoked now. */
export async function revokeApiKey(db: Db, id: string, now: number): Promise<boolean> {
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  return rows.length === 1;
}

export async function listApiKeys(db: Db): Promise<ApiKeyInfo[]> {
  const rows = await db.select().from(apiKeys);
  return rows.sort((a, b) => a.createdAt - b.createdAt).map(describeApiKey);
}

/** The live key whose secret is `presented`, if any. */
export async function findApiKey(db: Db, presented: string): Promise<ApiKeyRow | undefined> {
  if (!presented.startsWith(API_KEY_PREFIX) || presented.length > 200) return undefined;
  const hash = await sha256Hex(presented);
  const rows = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt)))
    .limit(1);
  return rows[0];
}
