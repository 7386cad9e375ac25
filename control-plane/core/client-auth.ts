// Client authentication: API key (Bearer or x-api-key), per-key rate limit and concurrency quota.
import { createMiddleware } from 'hono/factory';
import { bearerToken } from '../../protocol/bearer.ts';
import { findApiKey } from './api-keys.ts';
import type { Deps } from './deps.ts';
import { ApiError } from './errors.ts';
import type { RateLimiter } from './rate-limit.ts';

/** The ticket `sub` of requests in development mode (no keys). */
export const DEVELOPMENT_CLIENT = 'anonymous';

export interface ClientEnv {
  Variables: { clientId: string };
}

/** The key a client presented: `Authorization: Bearer sk-…` (OpenAI) or `x-api-key: sk-…`. */
export function presentedKey(headers: { header(name: string): string | undefined }) {
  return bearerToken(headers.header('authorization')) ?? headers.header('x-api-key')?.trim();
}

/**
 * Refuses `x-api-key` on paths answered with a 307 to an agent. Clients (fetch, curl -L, the
 * OpenAI and Ollama SDKs) drop `Authorization` on a cross-origin redirect but resend any other
 * header, so a key in `x-api-key` would reach the agent. Checked in every auth mode: the header
 * would leak whatever key the client holds.
 */
export const refuseRedirectedKeyHeader = createMiddleware(async (c, next) => {
  if (c.req.header('x-api-key') !== undefined) {
    throw new ApiError(
      'invalid_request',
      `x-api-key is not accepted on ${c.req.path}: this path redirects to an agent, and clients ` +
        'resend x-api-key there. Send the key as Authorization: Bearer <key>',
      { param: 'x-api-key' },
    );
  }
  return next();
});

/**
 * Authenticates the client and, for requests that take an agent slot (`inference`), applies the
 * key's rate limit and concurrency quota. Sets `clientId` (the API key id, or 'anonymous').
 */
export function requireClient(deps: Deps, limiter: RateLimiter, opts: { inference: boolean }) {
  return createMiddleware<ClientEnv>(async (c, next) => {
    if (deps.config.authMode === 'development') {
      c.set('clientId', DEVELOPMENT_CLIENT);
      return next();
    }
    const presented = presentedKey(c.req);
    const key = presented ? await findApiKey(deps.store.keys, presented) : undefined;
    if (!key) {
      deps.log.warn('client rejected', {
        path: c.req.path,
        reason: presented ? 'bad key' : 'no key',
      });
      throw new ApiError(
        'invalid_api_key',
        presented
          ? 'Invalid or revoked API key'
          : 'An API key is required: Authorization: Bearer <key>',
      );
    }
    c.set('clientId', key.id);
    if (opts.inference) {
      const perMinute = key.rateLimitPerMinute ?? deps.config.rateLimitPerMinute;
      const decision = limiter.take(key.id, perMinute, deps.clock.now());
      if (!decision.ok) {
        throw new ApiError(
          'rate_limit_exceeded',
          `Rate limit of ${perMinute} requests/min reached`,
          {
            retryAfterSeconds: decision.retryAfterSeconds,
          },
        );
      }
      const maxConcurrent = key.maxConcurrent ?? deps.config.maxConcurrentPerKey;
      if ((await deps.store.tickets.openOf(key.id)) >= maxConcurrent) {
        throw new ApiError(
          'concurrency_limit_exceeded',
          `This key already has ${maxConcurrent} requests in flight`,
          { retryAfterSeconds: 1 },
        );
      }
    }
    return next();
  });
}
