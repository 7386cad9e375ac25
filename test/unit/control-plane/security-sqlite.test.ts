// Runs the security contract on Node with a real better-sqlite3 database per test.
import type { Db } from '../../../control-plane/db.ts';
import { openSqlite } from '../../../control-plane/node.ts';
import { securityContract } from '../../contract/security.contract.ts';

securityContract('Node + better-sqlite3', {
  async freshDb() {
    return openSqlite(':memory:').db as unknown as Db;
  },
});
