// Agent authentication: join tokens (configured or created with a lifetime) admit a registration;
// the per-agent credential it returns (stored as SHA-256) must sign every later call.
import { createMiddleware } from 'hono/factory';
import { bearerToken } from '../../protocol/bearer.ts';
import type { ControlPlaneConfig } from './config.ts';
import { liveCutoff } from './config.ts';
import type { CredentialCache } from './credential-cache.ts';
import type { Deps } from './deps.ts';
import { ApiError } from './errors.ts';
import { constantTimeEqual, newId, newSecret, sha256Hex } from './secrets.ts';
import type { CredentialStore, JoinToken } from './storage/types.ts';

export const JOIN_TOKEN_PREFIX = 'tj-';
export const AGENT_CREDENTIAL_PREFIX = 'tca-';

/** Without JOIN_TOKEN, development mode admits any agent; `keys` mode needs a created token. */
export function joinTokenRequired(config: ControlPlaneConfig): boolean {
  return config.joinToken !== undefined || config.authMode === 'keys';
}

/** The join token id recorded for agents admitted by the configured JOIN_TOKEN. */
export const ENV_JOIN_TOKEN_ID = 'env';

/**
 * Which join token admitted a registration: a created token's id or ENV_JOIN_TOKEN_ID, with its own
 * live-agent cap (null: MAX_AGENTS_PER_JOIN_TOKEN); `tokenId` null in development mode (no token).
 */
export interface JoinAdmission {
  tokenId: string | null;
  maxAgents: number | null;
}

/** The admission `presented` grants: the configured JOIN_TOKEN or a live created one; else none. */
export async function admissionOf(
  deps: Pick<Deps, 'store' | 'config' | 'clock'>,
  presented: string | undefined,
): Promise<JoinAdmission | undefined> {
  if (!joinTokenRequired(deps.config)) return { tokenId: null, maxAgents: null };
  if (!presented) return undefined;
  if (deps.config.joinToken !== undefined && constantTimeEqual(presented, deps.config.joinToken)) {
    return { tokenId: ENV_JOIN_TOKEN_ID, maxAgents: null };
  }
  if (!presented.startsWith(JOIN_TOKEN_PREFIX) || presented.length > 200) return undefined;
  const row = await deps.store.credentials.findJoinToken(await sha256Hex(presented));
  if (row === undefined || (row.expiresAt !== null && row.expiresAt <= deps.clock.now())) {
    return undefined;
  }
  return { tokenId: row.id, maxAgents: row.maxAgents };
}

export interface JoinTokenInfo {
  id: string;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /** Its own cap on live agents it admitted; null: MAX_AGENTS_PER_JOIN_TOKEN. */
  maxAgents: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function describe(row: JoinToken): JoinTokenInfo {
  return {
    id: row.id,
    name: row.name,
    createdAt: iso(row.createdAt) as string,
    expiresAt: iso(row.expiresAt),
    revokedAt: iso(row.revokedAt),
    maxAgents: row.maxAgents,
  };
}

export async function createJoinToken(
  credentials: CredentialStore,
  opts: { name: string; ttlMs?: number | undefined; maxAgents?: number | undefined },
  now: number,
): Promise<{ token: string; info: JoinTokenInfo }> {
  const token = newSecret(JOIN_TOKEN_PREFIX);
  const row: JoinToken = {
    id: newId('jt_'),
    hash: await sha256Hex(token),
    name: opts.name,
    createdAt: now,
    expiresAt: opts.ttlMs === undefined ? null : now + opts.ttlMs,
    revokedAt: null,
    maxAgents: opts.maxAgents ?? null,
  };
  await credentials.addJoinToken(row);
  return { token, info: describe(row) };
}

export async function listJoinTokens(credentials: CredentialStore): Promise<JoinTokenInfo[]> {
  const rows = await credentials.listJoinTokens();
  return rows.sort((a, b) => a.createdAt - b.createdAt).map(describe);
}

/**
 * Refuses a registration that would take over an id still held by a live agent, unless it
 * carries that agent's current credential.
 */
export async function assertMayClaimId(
  deps: Pick<Deps, 'store' | 'config' | 'clock' | 'log'>,
  id: string,
  presentedCredential: string | undefined,
): Promise<void> {
  const held = await deps.store.credentials.agentCredential(id);
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

/**
 * Issues a fresh credential for `id` (after upsert) and returns the secret, shown only now. The old
 * one is refused from here on: `cache` (the process's verified credentials) forgets it.
 */
export async function issueCredential(
  credentials: CredentialStore,
  id: string,
  cache?: CredentialCache,
): Promise<string> {
  const credential = newSecret(AGENT_CREDENTIAL_PREFIX);
  cache?.forget(id);
  await credentials.setAgentCredential(id, await sha256Hex(credential));
  cache?.forget(id);
  return credential;
}

/**
 * Heartbeats and job reports: `Authorization: Bearer <credential>` of the agent in `:id`. With
 * `deps.credentials` (Node), a credential verified before is accepted without reading the database.
 */
export function requireAgentCredential(deps: Pick<Deps, 'store' | 'log' | 'credentials'>) {
  const cache = deps.credentials;
  return createMiddleware(async (c, next) => {
    const id = c.req.param('id') ?? '';
    const presented = bearerToken(c.req.header('authorization'));
    const hash =
      presented === undefined
        ? undefined
        : cache
          ? cache.hash(presented)
          : await sha256Hex(presented);
    if (cache && hash !== undefined && cache.holds(id, hash)) return next();
    const version = cache?.version ?? 0;
    const row = await deps.store.credentials.agentCredential(id);
    if (!row)
      throw new ApiError('agent_not_found', `Agent '${id}' is not registered; register again`);
    const ok = hash !== undefined && row.hash !== null && constantTimeEqual(hash, row.hash);
    if (ok && hash !== undefined) cache?.remember(id, hash, version);
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
