// Agent authentication: join tokens (configured or created with a lifetime) admit a registration;
// the per-agent credential it returns (stored as SHA-256) must sign every later call.

import { and, eq, isNull } from 'drizzle-orm';
import { createMiddleware } from 'hono/factory';
import { bearerToken } from '../../protocol/bearer.ts';
import { agents, type JoinTokenRow, joinTokens } from '../../schema/tables.ts';
import type { ControlPlaneConfig } from './config.ts';
import { liveCutoff } from './config.ts';
import type { Db } from './db.ts';
import type { Deps } from './deps.ts';
import { ApiError } from './errors.ts';
import { constantTimeEqual, newId, newSecret, sha256Hex } from './secrets.ts';

export const JOIN_TOKEN_PREFIX = 'tj-';
export const AGENT_CREDENTIAL_PREFIX = 'tca-';

/** Without JOIN_TOKEN, development mode admits any agent; `keys` mode needs a created token. */
export function joinTokenRequired(config: ControlPlaneConfig): boolean {
  return config.joinToken !== undefined || config.authMode === 'keys';
}

/** True when `presented` is the configured JOIN_TOKEN or a live created one. */
export async function isValidJoinToken(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  presented: string | undefined,
): Promise<boolean> {
  if (!joinTokenRequired(deps.config)) return true;
  if (!presented) return false;
  if (deps.config.joinToken !== undefined && constantTimeEqual(presented, deps.config.joinToken)) {
    return true;
  }
  if (!presented.startsWith(JOIN_TOKEN_PREFIX) || presented.length > 200) return false;
  const rows = await deps.db
    .select()
    .from(joinTokens)
    .where(and(eq(joinTokens.hash, await sha256Hex(presented)), isNull(joinTokens.revokedAt)))
    .limit(1);
  const row = rows[0];
  return row !== undefined && (row.expiresAt === null || row.expiresAt > deps.clock.now());
}

export interface JoinTokenInfo {
  id: string;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function describe(row: JoinTokenRow): JoinTokenInfo {
  return {
    id: row.id,
    name: row.name,
    createdAt: iso(row.createdAt) as string,
    expiresAt: iso(row.expiresAt),
    revokedAt: iso(row.revokedAt),
  };
}

export async function createJoinToken(
  db: Db,
  opts: { name: string; ttlMs?: number | undefined },
  now: number,
): Promise<{ token: string; info: JoinTokenInfo }> {
  const token = newSecret(JOIN_TOKEN_PREFIX);
  const row: JoinTokenRow = {
    id: newId('jt_'),
    hash: await sha256Hex(token),
    name: opts.name,
    createdAt: now,
    expiresAt: opts.ttlMs === undefined ? null : now + opts.ttlMs,
    revokedAt: null,
  };
  await db.insert(joinTokens).values(row);
  return { token, info: describe(row) };
}

export async function revokeJoinToken(db: Db, id: string, now: number): Promise<boolean> {
  const rows = await db
    .update(joinTokens)
    .set({ revokedAt: now })
    .where(and(eq(joinTokens.id, id), isNull(joinTokens.revokedAt)))
    .returning({ id: joinTokens.id });
  return rows.length === 1;
}

export async function listJoinTokens(db: Db): Promise<JoinTokenInfo[]> {
  const rows = await db.select().from(joinTokens);
  return rows.sort((a, b) => a.createdAt - b.createdAt).map(describe);
}

/**
 * Refuses a registration that would take over an id still held by a live agent, unless it
 * carries that agent's current credential.
 */
export async function assertMayClaimId(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'log'>,
  id: string,
  presentedCredential: string | undefined,
): Promise<void> {
  const rows = await deps.db
    .select({
      hash: agents.credentialHash,
      state: agents.state,
      lastHeartbeatAt: agents.lastHeartbeatAt,
    })
    .from(agents)
    .where(eq(agents.id, id))
    .limit(1);
  const held = rows[0];
  if (!held || held.hash === null || held.state === 'offline') return;
  if (held.lastHeartbeatAt <= liveCutoff(deps.config, deps.clock.now())) return;
  if (presentedCredential && constantTimeEqual(await sha256Hex(presentedCredential), held.hash)) {
    return;
  }
  deps.log.warn('registration refused: agent id held by a live agent', { agent: id });
  throw new ApiError(
    'agent_id_taken',
    `Agent id '${id}' is held by a live agent; present its credential or wait until it is offline`,
  );
}

/** Issues a fresh credential for `id` (after upsert) and returns the secret, shown only now. */
export async function issueCredential(db: Db, id: string): Promise<string> {
  const credential = newSecret(AGENT_CREDENTIAL_PREFIX);
  await db
    .update(agents)
    .set({ credentialHash: await sha256Hex(credential) })
    .where(eq(agents.id, id));
  return credential;
}

/** Heartbeats and job reports: `Authorization: Bearer <credential>` of the agent in `:id`. */
export function requireAgentCredential(deps: Pick<Deps, 'db' | 'log'>) {
  return createMiddleware(async (c, next) => {
    const id = c.req.param('id') ?? '';
    const rows = await deps.db
      .select({ hash: agents.credentialHash })
      .from(agents)
      .where(eq(agents.id, id))
      .limit(1);
    const row = rows[0];
    if (!row)
      throw new ApiError('agent_not_found', `Agent '${id}' is not registered; register again`);
    const presented = bearerToken(c.req.header('authorization'));
    const ok =
      presented !== undefined &&
      row.hash !== null &&
      constantTimeEqual(await sha256Hex(presented), row.hash);
    if (!ok) {
      deps.log.warn('agent call refused: bad credential', {
        agent: id,
        path: c.req.path,
        reason: presented ? 'wrong credential' : 'no credential',
      });
      throw new ApiError('unauthorized', 'Missing or invalid agent credential; register again');
    }
    await next();
  });
}
