// Runs the security contract on Node with a real better-sqlite3 database per test.
import { openSqlite } from '../../../control-plane/node/sqlite.ts';
import { securityContract } from '../../contract/security.contract.ts';

securityContract('Node + better-sqlite3', {
  async freshStore() {
    const { store, sqlite } = openSqlite(':memory:');
    const total = () => (sqlite.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    return { store, rowsWritten: async () => total() };
  },
});
