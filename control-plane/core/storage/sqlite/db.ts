// The handle the SQLite implementation works on: drizzle over D1 (async) or better-sqlite3 (sync).
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type * as schema from '../../../../schema/tables.ts';

export type Db = BaseSQLiteDatabase<'sync' | 'async', unknown, typeof schema>;

/** Rows a statement changed: better-sqlite3 says `changes`, D1 `meta.changes`. */
export function changes(result: unknown): number {
  const r = result as { changes?: number; meta?: { changes?: number } };
  return r.changes ?? r.meta?.changes ?? 0;
}

/**
 * A query built once, on first use, then run with `sql.placeholder` values: drizzle spends about
 * ten times longer building a query (and its SQL text) than SQLite takes to run a lookup by key,
 * so the queries on every heartbeat and job report are built once per store (per process on
 * Node; per request on Workers, where it costs what building it anew did).
 */
export function builtOnce<T>(build: () => T): () => T {
  let query: T | undefined;
  return () => {
    query ??= build();
    return query;
  };
}
