// The Node control plane's database: better-sqlite3 with every migration applied at open, and the
// store over it.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from '../../schema/tables.ts';
import { type Db, sqliteStore } from '../core/storage/sqlite/index.ts';
import { cachePreparedStatements } from './statement-cache.ts';

const here = dirname(fileURLToPath(import.meta.url));
/** The installed package's copy beside its bundle (dist/migrations), else the checkout's migrations/. */
export const MIGRATIONS_DIR = existsSync(join(here, 'migrations'))
  ? join(here, 'migrations')
  : resolve(here, '../../migrations');

/** Opens (creating if needed) the SQLite database and applies every migration. */
export function openSqlite(path: string): {
  db: ReturnType<typeof drizzle<typeof schema>>;
  sqlite: Database.Database;
  store: ReturnType<typeof sqliteStore>;
} {
  // Owner-only: the database holds only hashes of keys and credentials, but nobody else needs it.
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const sqlite = new Database(path);
  if (path !== ':memory:') chmodSync(path, 0o600);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  cachePreparedStatements(sqlite);
  return { db, sqlite, store: sqliteStore(db as unknown as Db) };
}
