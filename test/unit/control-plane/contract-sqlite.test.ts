// Runs the control-plane contract on Node with a real better-sqlite3 database per test.

import type { Db } from '../../../control-plane/db.ts';
import { openSqlite } from '../../../control-plane/node.ts';
import { controlPlaneContract } from '../../contract/control-plane.contract.ts';

controlPlaneContract('Node + better-sqlite3', {
  async freshDb() {
    return openSqlite(':memory:').db as unknown as Db;
  },
});
