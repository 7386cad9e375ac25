// Client API keys: created once (the secret is shown only then), stored as SHA-256, revocable.
import { newId, newSecret, sha256Hex } from './secrets.ts';
import type { ApiKey, KeyStore } from './storage/types.ts';

export const API_KEY_PREFIX = 'sk-titan-';

export interface ApiKeyInfo {
  id: string;
  name: string;
  createdAt: string;
  revokedAt: string | null;
  rateLimitPerMinute: number | null;
  maxConcurrent: number | null;
}

export function describeApiKey(row: ApiKey): ApiKeyInfo {
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
  keys: KeyStore,
  opts: { name: string; rateLimitPerMinute?: number | null; maxConcurrent?: number | null },
  now: number,
): Promise<{ key: string; info: ApiKeyInfo }> {
  const key = newSecret(API_KEY_PREFIX);
  const row: ApiKey = {
    id: newId('key_'),
    hash: await sha256Hex(key),
    name: opts.name,
    createdAt: now,
    revokedAt: null,
    rateLimitPerMinute: opts.rateLimitPerMinute ?? null,
    maxConcurrent: opts.maxConcurrent ?? null,
  };
  await keys.add(row);
  return { key, info: describeApiKey(row) };
}

export async function listApiKeys(keys: KeyStore): Promise<ApiKeyInfo[]> {
  const rows = await keys.list();
  return rows.sort((a, b) => a.createdAt - b.createdAt).map(describeApiKey);
}

/** The live key whose secret is `presented`, if any. */
export async function findApiKey(keys: KeyStore, presented: string): Promise<ApiKey | undefined> {
  if (!presented.startsWith(API_KEY_PREFIX) || presented.length > 200) return undefined;
  return keys.findLive(await sha256Hex(presented));
}
