// GET /v1/requests/:id: a request's timeline (timeline.ts), for the admin key or the API key that
// made the request; anyone else is told there is no such request.
import { Hono } from 'hono';
import { z } from 'zod';
import { bearerToken } from '../../../protocol/bearer.ts';
import { REQUEST_TIMELINE_ROUTE } from '../../../protocol/client-api.ts';
import { findApiKey } from '../api-keys.ts';
import { DEVELOPMENT_CLIENT, presentedKey } from '../client-auth.ts';
import type { Deps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { constantTimeEqual } from '../secrets.ts';
import { requestTimeline } from '../timeline.ts';

const idParam = z.string().min(1).max(100);

/** Who asks: the admin (every request), or a client key id (its own requests only). */
async function caller(
  deps: Deps,
  headers: { header(name: string): string | undefined },
): Promise<{ admin: true } | { admin: false; clientId: string }> {
  const adminKey = deps.config.adminKey;
  const bearer = bearerToken(headers.header('authorization'));
  if (adminKey !== undefined && bearer !== undefined && constantTimeEqual(bearer, adminKey)) {
    return { admin: true };
  }
  if (deps.config.authMode === 'development') return { admin: false, clientId: DEVELOPMENT_CLIENT };
  const presented = presentedKey(headers);
  const key = presented ? await findApiKey(deps.store.keys, presented) : undefined;
  if (!key) {
    throw new ApiError(
      'invalid_api_key',
      presented
        ? 'Invalid or revoked key'
        : 'The admin key or an API key is required: Authorization: Bearer <key>',
    );
  }
  return { admin: false, clientId: key.id };
}

export function requestRoutes(deps: Deps) {
  const app = new Hono();
  app.get(REQUEST_TIMELINE_ROUTE, async (c) => {
    const id = idParam.parse(c.req.param('id'));
    const who = await caller(deps, c.req);
    const row = await deps.store.tickets.get(id);
    if (!row || (!who.admin && row.client !== who.clientId)) {
      throw new ApiError('not_found', `No request '${id}' (or not one of this key's)`);
    }
    return c.json(requestTimeline(row));
  });
  return app;
}
