// Runs the control-plane, security and admin fleet contracts inside workerd on a real local D1.
import { env } from 'cloudflare:test';
import { drizzle } from 'drizzle-orm/d1';
import { type Db, sqliteStore } from '../../control-plane/core/storage/sqlite/index.ts';
import * as schema from '../../schema/tables.ts';
import { adminContract } from '../contract/admin.contract.ts';
import { controlPlaneContract } from '../contract/control-plane.contract.ts';
import { dashboardContract } from '../contract/dashboard.contract.ts';
import { leasesContract } from '../contract/leases.contract.ts';
import { prefixCacheContract } from '../contract/prefix-cache.contract.ts';
import { securityContract } from '../contract/security.contract.ts';
import { timelineContract } from '../contract/timeline.contract.ts';
import { countingD1 } from './counting-d1.ts';

const target = {
  async freshStore() {
    // Storage is isolated per test file; empty the tables so each test starts clean.
    await env.DB.batch([
      env.DB.prepare('DELETE FROM api_keys'),
      env.DB.prepare('DELETE FROM join_tokens'),
      env.DB.prepare('DELETE FROM tickets'),
      env.DB.prepare('DELETE FROM agent_models'),
      env.DB.prepare('DELETE FROM agents'),
    ]);
    const counter = countingD1(env.DB);
    return {
      store: sqliteStore(drizzle(counter.db, { schema }) as unknown as Db),
      rowsWritten: async () => counter.rowsWritten,
    };
  },
};

controlPlaneContract('Workers + D1', target);
leasesContract('Workers + D1', target);
prefixCacheContract('Workers + D1', target);
securityContract('Workers + D1', target);
adminContract('Workers + D1', target);
timelineContract('Workers + D1', target);
dashboardContract('Workers + D1', target);
