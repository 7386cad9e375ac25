// Runs the control-plane contract inside workerd against a real local D1 database.
import { env } from 'cloudflare:test';
import { drizzle } from 'drizzle-orm/d1';
import type { Db } from '../../control-plane/db.ts';
import * as schema from '../../schema/tables.ts';
import { controlPlaneContract } from '../contract/control-plane.contract.ts';
import { securityContract } from '../contract/security.contract.ts';

const target = {
  async freshDb() {
    // Storage is isolated per test file; empty the tables so each test starts clean.
    await env.DB.batch([
      env.DB.prepare('DELETE FROM api_keys'),
      env.DB.prepare('DELETE FROM join_tokens'),
      env.DB.prepare('DELETE FROM tickets'),
      env.DB.prepare('DELETE FROM agent_models'),
      env.DB.prepare('DELETE FROM agents'),
    ]);
    return drizzle(env.DB, { schema }) as unknown as Db;
  },
};

controlPlaneContract('Workers + D1', target);
securityContract('Workers + D1', target);
