// Client-facing routing: POST /v1/route (JSON) and the OpenAI/Ollama paths answered with a 307.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { readBody, readJson } from '../body.ts';
import type { Deps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { routeRequest } from '../routing.ts';

/** Inference paths the control plane redirects; the agent serves the same paths. */
export const REDIRECTED_PATHS = [
  '/v1/chat/completions',
  '/v1/completions',
  '/api/chat',
  '/api/generate',
] as const;

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const ANONYMOUS_CLIENT = 'anonymous';

const routeBodySchema = z.object({
  model: z.string().min(1).max(200),
  /** Return the scheduler's full breakdown: every candidate's scores, every exclusion. */
  debug: z.boolean().optional(),
  /** Agents this request already failed on (failover): pick among the others. */
  exclude: z.array(z.string().max(100)).max(64).optional(),
});

/** Cloudflare puts the client's approximate location on request.cf (strings); Node has none. */
export function clientLocation(raw: Request): { latitude: number; longitude: number } | undefined {
  const cf = (raw as Request & { cf?: { latitude?: unknown; longitude?: unknown } }).cf;
  const latitude = Number(cf?.latitude);
  const longitude = Number(cf?.longitude);
  if (cf?.latitude === undefined || !Number.isFinite(latitude) || !Number.isFinite(longitude))
    return undefined;
  return { latitude, longitude };
}

function modelOf(body: unknown): string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError('invalid_request', 'The request body must be a JSON object');
  }
  const model = (body as { model?: unknown }).model;
  if (typeof model !== 'string' || model.length === 0 || model.length > 200) {
    throw new ApiError('invalid_request', "'model' is required and must be a non-empty string", {
      param: 'model',
    });
  }
  return model;
}

export function clientRoutes(deps: Deps) {
  const app = new Hono();
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new ApiError('payload_too_large', `Request body over ${MAX_BODY_BYTES} bytes`);
    },
  });

  app.post('/v1/route', limit, async (c) => {
    const { model, debug, exclude } = await readBody(c, routeBodySchema);
    const decision = await routeRequest(deps, {
      model,
      exclude,
      clientLocation: clientLocation(c.req.raw),
      client: ANONYMOUS_CLIENT,
      ticketTtlMs: deps.config.routeTicketTtlMs,
    });
    return c.json({
      agent: decision.agent,
      ticket: decision.ticket,
      expiresAt: new Date(decision.expiresAt).toISOString(),
      fallbacks: decision.fallbacks,
      scheduler: decision.scheduler,
      ...(debug
        ? {
            debug: {
              candidates: decision.decision.ranked.map((r) => ({
                agent: r.agent.id,
                score: r.score,
                components: r.components,
              })),
              excluded: decision.decision.excluded,
            },
          }
        : {}),
    });
  });

  for (const path of REDIRECTED_PATHS) {
    app.post(path, limit, async (c) => {
      const model = modelOf(await readJson(c));
      const decision = await routeRequest(deps, {
        model,
        clientLocation: clientLocation(c.req.raw),
        client: ANONYMOUS_CLIENT,
        ticketTtlMs: deps.config.urlTicketTtlMs,
      });
      const target = new URL(path, `${decision.agent.url}/`);
      for (const [k, v] of new URL(c.req.url).searchParams) target.searchParams.append(k, v);
      target.searchParams.set('ticket', decision.ticket);
      c.header('Cache-Control', 'no-store');
      c.header('X-Titan-Agent', decision.agent.id);
      return c.redirect(target.toString(), 307);
    });
  }
  return app;
}
