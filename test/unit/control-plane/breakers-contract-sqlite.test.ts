// Runs the circuit-breaker contract on Node with a real better-sqlite3 database per test.
import type { Db } from '../../../control-plane/core/db.ts';
import { openSqlite } from '../../../control-plane/node/sqlite.ts';
import { breakersContract } from '../../contract/breakers.contract.ts';

breakersContract('Node + better-sqlite3', {
  async freshDb() {
    const { db } = openSqlite(':memory:');
    return { db: db as unknown as Db, rowsWritten: async () => 0 };
  },
});
