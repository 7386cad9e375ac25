// Runs the circuit-breaker contract on Node with a real better-sqlite3 database per test.
import { openSqlite } from '../../../control-plane/node/sqlite.ts';
import { breakersContract } from '../../contract/breakers.contract.ts';

breakersContract('Node + better-sqlite3', {
  async freshStore() {
    return { store: openSqlite(':memory:').store, rowsWritten: async () => 0 };
  },
});
