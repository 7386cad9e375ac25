// The SQLite implementation of the control plane's storage: drizzle over D1 (Workers) or
// better-sqlite3 (Node), one code path for both.
import type { Store } from '../types.ts';
import { sqliteAgents } from './agents.ts';
import { sqliteBreakers } from './breakers.ts';
import type { Db } from './db.ts';
import { sqliteCredentials, sqliteKeys } from './keys.ts';
import { sqliteTickets } from './tickets.ts';

export type { Db } from './db.ts';

export function sqliteStore(db: Db): Store {
  return {
    agents: sqliteAgents(db),
    tickets: sqliteTickets(db),
    breakers: sqliteBreakers(db),
    keys: sqliteKeys(db),
    credentials: sqliteCredentials(db),
  };
}
