// The database handle every runtime passes in: drizzle over D1 (async) or better-sqlite3 (sync).
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type * as schema from '../../schema/tables.ts';

export type Db = BaseSQLiteDatabase<'sync' | 'async', unknown, typeof schema>;
