// Runs the circuit-breaker contract inside workerd against a real local D1 database.
import { env } from 'cloudflare:test';
import { drizzle } from 'drizzle-orm/d1';
import { type Db, sqliteStore } from '../../control-plane/core/storage/sqlite/index.ts';
import * as schema from '../../schema/tables.ts';
import { breakersContract } from '../contract/breakers.contract.ts';

breakersContract('Workers + D1', {
  async freshStore() {
    await env.DB.batch([
      env.DB.prepare('DELETE FROM tickets'),
      env.DB.prepare('DELETE FROM agent_models'),
      env.DB.prepare('DELETE FROM agents'),
    ]);
    return {
      store: sqliteStore(drizzle(env.DB as never, { schema }) as unknown as Db),
      rowsWritten: async () => 0,
    };
  },
});
