// GET /metrics is for scrapers: its own bearer secret (METRICS_TOKEN), never a client API key.
import { createMiddleware } from 'hono/factory';
import { bearerToken } from '../../protocol/bearer.ts';
import type { ControlPlaneConfig } from './config.ts';
import { ApiError } from './errors.ts';
import { constantTimeEqual } from './secrets.ts';

/** METRICS_TOKEN set: required. Unset: /metrics is off, except in development mode (open). */
export function requireMetricsToken(config: Pick<ControlPlaneConfig, 'metricsToken' | 'authMode'>) {
  return createMiddleware(async (c, next) => {
    const token = config.metricsToken;
    if (token === undefined) {
      if (config.authMode === 'development') return next();
      throw new ApiError('forbidden', 'Metrics are off: set METRICS_TOKEN to scrape /metrics');
    }
    const presented = bearerToken(c.req.header('authorization')) ?? '';
    if (!constantTimeEqual(presented, token)) {
      throw new ApiError(
        'unauthorized',
        'Missing or invalid metrics token: Authorization: Bearer <METRICS_TOKEN>',
      );
    }
    return next();
  });
}
