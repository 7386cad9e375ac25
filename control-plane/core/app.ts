// createApp(deps): the runtime-agnostic control plane. Node and Workers entries stay thin.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { AGENT_API_BASE } from '../../protocol/agent-api.ts';
import { CONTROL_PLANE_MAX_BODY_BYTES } from '../../protocol/body-limit.ts';
import { ROUTE_PATH } from '../../protocol/client-api.ts';
import { corsMiddleware } from '../../protocol/cors.ts';
import { errorBodyFor, MODEL_LIST_PATHS } from '../../protocol/dialects.ts';
import { limitBodyTo } from './body.ts';
import { refuseRedirectedKeyHeader, requireClient } from './client-auth.ts';
import { DASHBOARD_PATH, dashboardPageRoutes } from './dashboard/page.ts';
import type { Deps } from './deps.ts';
import { ApiError } from './errors.ts';
import { requireMetricsToken } from './metrics-auth.ts';
import { RateLimiter } from './rate-limit.ts';
import { adminRoutes } from './routes/admin.ts';
import { agentRoutes } from './routes/agents.ts';
import { clientRoutes, REDIRECTED_PATHS } from './routes/clients.ts';
import { failureRoutes } from './routes/failures.ts';
import { infoRoutes } from './routes/info.ts';
import { requestRoutes } from './routes/requests.ts';

/** Any thrown error as the ApiError the client sees (unknown errors: a bare 500). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException && err.status === 413) {
    return new ApiError('payload_too_large', 'Request body too large');
  }
  if (err instanceof SyntaxError || (err as { name?: unknown } | null)?.name === 'ZodError') {
    return new ApiError('invalid_request', 'Malformed request');
  }
  if (err instanceof HTTPException && err.status < 500) {
    return new ApiError('invalid_request', err.message || 'Bad request');
  }
  return new ApiError('internal_error', 'Internal error in the control plane');
}

export function createApp(deps: Deps) {
  const app = new Hono();

  app.onError((err, c) => {
    const apiErr = toApiError(err);
    if (apiErr.status >= 500 && apiErr.code === 'internal_error') {
      deps.log.error('request failed', {
        path: c.req.path,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    }
    if (apiErr.retryAfterSeconds !== undefined) {
      c.header('Retry-After', String(apiErr.retryAfterSeconds));
    }
    return c.json(errorBodyFor(c.req.path, apiErr), apiErr.status);
  });

  app.notFound((c) => {
    const err = new ApiError('not_found', `No route for ${c.req.method} ${c.req.path}`);
    return c.json(errorBodyFor(c.req.path, err), 404);
  });

  // First: a preflight is answered here, never authenticated, counted or redirected.
  app.use('*', corsMiddleware({ origins: deps.config.corsOrigins }));
  if (deps.metrics) app.use('*', deps.metrics.middleware);
  // One body limit on every route, chunked bodies counted as they arrive (some routes set less).
  app.use('*', limitBodyTo(CONTROL_PLANE_MAX_BODY_BYTES));

  // Every client endpoint needs an API key (unless AUTH_MODE=development); inference paths also
  // pay the key's rate limit and concurrency quota.
  const limiter = deps.limiter ?? new RateLimiter();
  for (const path of REDIRECTED_PATHS) app.use(path, refuseRedirectedKeyHeader);
  for (const path of [ROUTE_PATH, ...REDIRECTED_PATHS]) {
    app.use(path, requireClient(deps, limiter, { inference: true }));
  }
  for (const path of [...Object.values(MODEL_LIST_PATHS), '/v1/status']) {
    app.use(path, requireClient(deps, limiter, { inference: false }));
  }
  const metrics = deps.metrics;
  if (metrics) {
    app.get('/metrics', requireMetricsToken(deps.config), async (c) => {
      const { contentType, body } = await metrics.render();
      return c.body(body, 200, { 'content-type': contentType });
    });
  }

  app.route('/admin', adminRoutes(deps));
  app.route(DASHBOARD_PATH, dashboardPageRoutes());
  app.route(AGENT_API_BASE, agentRoutes(deps));
  app.route('/', clientRoutes(deps));
  app.route('/', failureRoutes(deps));
  app.route('/', requestRoutes(deps));
  app.route('/', infoRoutes(deps));
  return app;
}

export type ControlPlaneApp = ReturnType<typeof createApp>;
