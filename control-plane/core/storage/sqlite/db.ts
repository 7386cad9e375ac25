// The handle the SQLite implementation works on: drizzle over D1 (async) or better-sqlite3 (sync).
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type * as schema from '../../../../schema/tables.ts';

export type Db = BaseSQLiteDatabase<'sync' | 'async', unknown, typeof schema>;

/** Rows a statement changed: better-sqlite3 says `changes`, D1 `meta.changes`. */
export function changes(result: unknown): number {
  const r = result as { changes?: number; meta?: { changes?: number } };
  return r.changes ?? r.meta?.changes ?? 0;
}
