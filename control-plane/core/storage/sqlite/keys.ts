// Client API keys, join tokens and agent credentials in SQL (hashes only, never a secret).
import { and, eq, isNull } from 'drizzle-orm';
import { agents, apiKeys, joinTokens } from '../../../../schema/tables.ts';
import type { CredentialStore, KeyStore } from '../types.ts';
import type { Db } from './db.ts';

export function sqliteKeys(db: Db): KeyStore {
  return {
    async add(key) {
      await db.insert(apiKeys).values(key);
    },
    async revoke(id, now) {
      const rows = await db
        .update(apiKeys)
        .set({ revokedAt: now })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
        .returning({ id: apiKeys.id });
      return rows.length === 1;
    },
    list: () => db.select().from(apiKeys),
    async findLive(hash) {
      const rows = await db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt)))
        .limit(1);
      return rows[0];
    },
  };
}

export function sqliteCredentials(db: Db): CredentialStore {
  return {
    async addJoinToken(token) {
      await db.insert(joinTokens).values(token);
    },
    async revokeJoinToken(id, now) {
      const rows = await db
        .update(joinTokens)
        .set({ revokedAt: now })
        .where(and(eq(joinTokens.id, id), isNull(joinTokens.revokedAt)))
        .returning({ id: joinTokens.id });
      return rows.length === 1;
    },
    listJoinTokens: () => db.select().from(joinTokens),
    async findJoinToken(hash) {
      const rows = await db
        .select()
        .from(joinTokens)
        .where(and(eq(joinTokens.hash, hash), isNull(joinTokens.revokedAt)))
        .limit(1);
      return rows[0];
    },
    async agentCredential(id) {
      const rows = await db
        .select({
          hash: agents.credentialHash,
          state: agents.state,
          lastHeartbeatAt: agents.lastHeartbeatAt,
        })
        .from(agents)
        .where(eq(agents.id, id))
        .limit(1);
      return rows[0];
    },
    async setAgentCredential(id, hash) {
      await db.update(agents).set({ credentialHash: hash }).where(eq(agents.id, id));
    },
  };
}
