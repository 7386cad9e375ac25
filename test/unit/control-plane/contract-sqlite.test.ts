// Runs the control-plane, admin fleet and lease contracts on Node, a fresh better-sqlite3 database
// per test.

import { openSqlite } from '../../../control-plane/node/sqlite.ts';
import { adminContract } from '../../contract/admin.contract.ts';
import { controlPlaneContract } from '../../contract/control-plane.contract.ts';
import { dashboardContract } from '../../contract/dashboard.contract.ts';
import { leasesContract } from '../../contract/leases.contract.ts';
import { prefixCacheContract } from '../../contract/prefix-cache.contract.ts';
import { timelineContract } from '../../contract/timeline.contract.ts';

const target = {
  async freshStore() {
    const { store, sqlite } = openSqlite(':memory:');
    const total = () => (sqlite.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    return { store, rowsWritten: async () => total() };
  },
};

controlPlaneContract('Node + better-sqlite3', target);
adminContract('Node + better-sqlite3', target);
leasesContract('Node + better-sqlite3', target);
timelineContract('Node + better-sqlite3', target);
prefixCacheContract('Node + better-sqlite3', target);
dashboardContract('Node + better-sqlite3', target);
