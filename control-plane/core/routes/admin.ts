// Admin API (Bearer ADMIN_KEY): client API keys and agent join tokens (create, list, revoke), the
// fleet (routes/admin-agents.ts), request timelines and the dashboard's data (dashboard/api.ts).
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import { bearerToken } from '../../../protocol/bearer.ts';
import { createJoinToken, listJoinTokens } from '../agent-credentials.ts';
import { createApiKey, listApiKeys } from '../api-keys.ts';
import { limitBodyTo, readBody } from '../body.ts';
import { parseDuration } from '../config-values.ts';
import { dashboardApiRoutes } from '../dashboard/api.ts';
import type { AdminDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { constantTimeEqual } from '../secrets.ts';
import { requestTimeline } from '../timeline.ts';
import { adminAgentRoutes } from './admin-agents.ts';

const name = z.string().min(1).max(100);
const createKeyBody = z.strictObject({
  name,
  rateLimitPerMinute: z.number().int().min(1).max(1_000_000).optional(),
  maxConcurrent: z.number().int().min(1).max(100_000).optional(),
});
const createJoinTokenBody = z.strictObject({
  name,
  /** "24h", "30m", "3600s"; absent = no expiry. */
  ttl: z.string().max(20).optional(),
  /** Most live agents it may have admitted; absent = MAX_AGENTS_PER_JOIN_TOKEN. */
  maxAgents: z.number().int().min(1).max(1_000_000).optional(),
});
const idParam = z.string().min(1).max(64);

/** What the admin API needs: the Node admin CLI serves it in-process over a local database. */

function requireAdmin(deps: AdminDeps) {
  return createMiddleware(async (c, next) => {
    const adminKey = deps.config.adminKey;
    if (adminKey === undefined) {
      throw new ApiError('forbidden', 'Admin API disabled: set ADMIN_KEY to enable it');
    }
    const presented = bearerToken(c.req.header('authorization')) ?? '';
    if (!constantTimeEqual(presented, adminKey)) {
      deps.log.warn('admin call refused', { path: c.req.path });
      throw new ApiError('unauthorized', 'Missing or invalid admin key');
    }
    await next();
  });
}

export function adminRoutes(deps: AdminDeps) {
  const { store, clock, log } = deps;
  const app = new Hono();
  app.use('*', requireAdmin(deps));
  app.use('*', limitBodyTo(16 * 1024, 'Admin request body'));

  app.get('/api-keys', async (c) => c.json({ keys: await listApiKeys(store.keys) }));
  app.post('/api-keys', async (c) => {
    const body = await readBody(c, createKeyBody);
    const created = await createApiKey(store.keys, body, clock.now());
    log.info('api key created', { id: created.info.id, name: body.name });
    return c.json({ ...created.info, key: created.key }, 201);
  });
  app.delete('/api-keys/:id', async (c) => {
    const id = idParam.parse(c.req.param('id'));
    if (!(await store.keys.revoke(id, clock.now()))) {
      throw new ApiError('not_found', `No live API key '${id}'`);
    }
    log.info('api key revoked', { id });
    return c.json({ id, revoked: true });
  });

  app.get('/join-tokens', async (c) => c.json({ tokens: await listJoinTokens(store.credentials) }));
  app.post('/join-tokens', async (c) => {
    const body = await readBody(c, createJoinTokenBody);
    let ttlMs: number | undefined;
    try {
      ttlMs = body.ttl === undefined ? undefined : parseDuration(body.ttl, 0, 'ttl');
    } catch (err) {
      throw new ApiError('invalid_request', (err as Error).message, { param: 'ttl' });
    }
    const created = await createJoinToken(
      store.credentials,
      { name: body.name, ttlMs, maxAgents: body.maxAgents },
      clock.now(),
    );
    log.info('join token created', { id: created.info.id, name: body.name });
    return c.json({ ...created.info, token: created.token }, 201);
  });
  app.delete('/join-tokens/:id', async (c) => {
    const id = idParam.parse(c.req.param('id'));
    if (!(await store.credentials.revokeJoinToken(id, clock.now()))) {
      throw new ApiError('not_found', `No live join token '${id}'`);
    }
    log.info('join token revoked', { id });
    return c.json({ id, revoked: true });
  });
  app.route('/agents', adminAgentRoutes(deps));
  // The same timeline as GET /v1/requests/:id, for the admin CLI (`requests show`).
  app.get('/requests/:id', async (c) => {
    const id = idParam.parse(c.req.param('id'));
    const row = await store.tickets.get(id);
    if (!row) throw new ApiError('not_found', `No request '${id}'`);
    return c.json(requestTimeline(row));
  });
  app.route('/dashboard', dashboardApiRoutes(deps));
  return app;
}
