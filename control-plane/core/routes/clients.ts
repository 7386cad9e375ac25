// Client-facing routing: POST /v1/route (JSON) and the OpenAI/Ollama paths answered with a 307.
import { Hono } from 'hono';
import { z } from 'zod';
import { TICKET_QUERY_PARAM } from '../../../protocol/agent-api.ts';
import { ROUTE_PATH } from '../../../protocol/client-api.ts';
import { INFERENCE_PATHS, REQUEST_ID_HEADER } from '../../../protocol/dialects.ts';
import {
  digestOfBody,
  type PrefixEntry,
  prefixDigestSchema,
} from '../../../protocol/prefix-digest.ts';
import { readJson } from '../body.ts';
import type { ClientEnv } from '../client-auth.ts';
import type { Deps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { routeRequest } from '../routing.ts';
import { dialectOf, inferenceLimits } from '../validation/inference.ts';

/** Inference paths the control plane redirects; the agent serves the same paths. */
export const REDIRECTED_PATHS = Object.values(INFERENCE_PATHS);

const excludeSchema = z.array(z.string().max(100)).max(64).optional();

/** Cloudflare puts the client's approximate location on request.cf (strings); Node has none. */
export function clientLocation(raw: Request): { latitude: number; longitude: number } | undefined {
  const cf = (raw as Request & { cf?: { latitude?: unknown; longitude?: unknown } }).cf;
  const latitude = Number(cf?.latitude);
  const longitude = Number(cf?.longitude);
  if (cf?.latitude === undefined || !Number.isFinite(latitude) || !Number.isFinite(longitude)) {
    return undefined;
  }
  return { latitude, longitude };
}

/**
 * The request's prefix digest: `prefix` as the client computed it (the native path: the prompt never
 * reaches the control plane), else computed from the messages or prompt in the body.
 */
async function prefixOf(raw: unknown): Promise<PrefixEntry[] | undefined> {
  const given = (raw as { prefix?: unknown }).prefix;
  if (given === undefined) return digestOfBody(raw);
  const parsed = prefixDigestSchema.safeParse(given);
  if (!parsed.success) {
    throw new ApiError(
      'invalid_request',
      "'prefix' must be the prefix digest: a list of {hash, chars} (protocol/prefix-digest.ts)",
      { param: 'prefix' },
    );
  }
  return parsed.data;
}

export function clientRoutes(deps: Deps) {
  const app = new Hono<ClientEnv>();

  app.post(ROUTE_PATH, async (c) => {
    const raw = await readJson(c);
    const limits = inferenceLimits('route', raw, deps.config.maxTokensCap);
    /** `debug: true` returns the scheduler's breakdown: every candidate's scores, every exclusion. */
    const debug = (raw as { debug?: unknown }).debug === true;
    /** Agents this request already failed on (failover): pick among the others. */
    const excluded = excludeSchema.safeParse((raw as { exclude?: unknown }).exclude);
    if (!excluded.success) {
      throw new ApiError('invalid_request', "'exclude' must be a list of agent ids", {
        param: 'exclude',
      });
    }
    const decision = await routeRequest(deps, {
      ...limits,
      prefix: await prefixOf(raw),
      prefixMaxLoad: deps.config.prefixMaxLoad,
      exclude: excluded.data,
      clientLocation: clientLocation(c.req.raw),
      client: c.get('clientId'),
      ticketTtlMs: deps.config.routeTicketTtlMs,
    });
    c.header(REQUEST_ID_HEADER, decision.jti);
    return c.json({
      requestId: decision.jti,
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
                ...(r.details ? { details: r.details } : {}),
              })),
              // Scored but not ranked (beyond RANKED_MAX): counted, not listed.
              moreCandidates: decision.decision.candidates - decision.decision.ranked.length,
              excluded: decision.decision.excluded,
            },
          }
        : {}),
    });
  });

  for (const path of REDIRECTED_PATHS) {
    app.post(path, async (c) => {
      const raw = await readJson(c);
      const limits = inferenceLimits(dialectOf(path), raw, deps.config.maxTokensCap);
      const decision = await routeRequest(deps, {
        ...limits,
        // From the body already read: the agent hashes the same body the same way.
        prefix: await digestOfBody(raw),
        prefixMaxLoad: deps.config.prefixMaxLoad,
        clientLocation: clientLocation(c.req.raw),
        client: c.get('clientId'),
        ticketTtlMs: deps.config.urlTicketTtlMs,
      });
      const target = new URL(path, `${decision.agent.url}/`);
      for (const [k, v] of new URL(c.req.url).searchParams) target.searchParams.append(k, v);
      target.searchParams.set(TICKET_QUERY_PARAM, decision.ticket);
      c.header('Cache-Control', 'no-store');
      c.header('X-Titan-Agent', decision.agent.id);
      c.header(REQUEST_ID_HEADER, decision.jti);
      return c.redirect(target.toString(), 307);
    });
  }
  return app;
}
