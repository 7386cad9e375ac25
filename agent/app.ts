// The agent's HTTP app (Hono): ticketed OpenAI/Ollama inference, models, health and status.
import { type Context, Hono } from 'hono';
import { AGENT_MAX_BODY_BYTES, limitBody } from '../protocol/body-limit.ts';
import { corsMiddleware } from '../protocol/cors.ts';
import { errorBodyFor } from '../protocol/dialects.ts';
import type { InferenceEngine } from './engines/engine.ts';
import { AccessLog } from './http/access.ts';
import { registerEmbeddingRoutes } from './http/embeddings.ts';
import { AgentHttpError, toHttpError } from './http/errors.ts';
import { secretOrLoopback } from './http/guard.ts';
import type { AdmissionConfirmer, JobDeps, JobReporter } from './http/job.ts';
import { registerOllamaRoutes } from './http/ollama.ts';
import { registerOpenAIRoutes } from './http/openai.ts';
import { DEFAULT_STALL_TIMEOUT_MS } from './http/stall.ts';
import { JobTracker } from './jobs.ts';
import { type Logger, silentLogger } from './log.ts';
import type { AgentMetrics } from './metrics.ts';
import type { PrefixRecord } from './prefix-record.ts';
import { ReplayGuard, type TicketVerifier } from './tickets.ts';

export interface AgentAppConfig {
  agentId: string;
  maxConcurrentJobs: number;
  /** Requests that may wait for a slot (default 0: refuse at once). */
  maxQueue?: number;
  version?: string;
  /** Drop a stream whose client reads nothing for this long (default 30 s). */
  streamStallTimeoutMs?: number;
  /** Browser origins that may call directly (default `*`); `Origin: null` is always allowed. */
  corsOrigins?: readonly string[];
}

export interface AgentAppDeps {
  engine: InferenceEngine;
  tickets: TicketVerifier;
  /** Fire-and-forget job reports to the control plane (default: dropped). */
  reportJob?: JobReporter;
  /** Confirms each admission with the control plane (default: nobody to ask, runs unconfirmed). */
  confirmAdmission?: AdmissionConfirmer;
  clock?: { now(): number };
  config: AgentAppConfig;
  /** Shared with the heartbeat loop; created from config.maxConcurrentJobs when absent. */
  jobs?: JobTracker;
  replay?: ReplayGuard;
  log?: Logger;
  /** Serves GET /metrics (Prometheus text) when present. */
  metrics?: AgentMetrics;
  /** Bearer token GET /metrics requires (METRICS_TOKEN); undefined: loopback clients only. */
  metricsToken?: string | undefined;
  /** Peer address of a request (default: the Node socket's). */
  remoteAddress?: ((c: Context) => string | undefined) | undefined;
  /** What the engine holds, recorded by each job for heartbeats (absent: not recorded). */
  prefixes?: PrefixRecord;
}

export type { JobReporter } from './http/job.ts';

export function createAgentApp(deps: AgentAppDeps): Hono {
  const clock = deps.clock ?? { now: () => Date.now() };
  const now = () => clock.now();
  const jobs =
    deps.jobs ?? new JobTracker(deps.config.maxConcurrentJobs, now, deps.config.maxQueue);
  const log = deps.log ?? silentLogger;
  const jobDeps: JobDeps = {
    engine: deps.engine,
    tickets: deps.tickets,
    replay: deps.replay ?? new ReplayGuard(now),
    jobs,
    reportJob: deps.reportJob ?? (() => {}),
    confirmAdmission: deps.confirmAdmission ?? (async () => 'unconfirmed'),
    now,
    stallTimeoutMs: deps.config.streamStallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
    access: new AccessLog(log, deps.metrics),
    metrics: deps.metrics,
    prefixes: deps.prefixes,
  };

  const app = new Hono();
  // First: a preflight is answered before any ticket check. A browser that followed the control
  // plane's 307 sends `Origin: null`; the ticket in the URL is what admits the request.
  app.use(
    '*',
    corsMiddleware({ origins: deps.config.corsOrigins ?? ['*'], allowNullOrigin: true }),
  );
  // One body limit on every route (admin included), chunked bodies counted as they arrive.
  app.use(
    '*',
    limitBody(
      AGENT_MAX_BODY_BYTES,
      () =>
        new AgentHttpError(
          'payload_too_large',
          `request body exceeds ${AGENT_MAX_BODY_BYTES} bytes`,
        ),
    ),
  );

  app.get('/healthz', (c) =>
    c.json({ status: jobs.draining ? 'draining' : 'ok' }, jobs.draining ? 503 : 200),
  );

  // Public, like /healthz: load and models, what a client or an operator may see. Ticket ids and
  // client ids are never shown (the control plane's /v1/status, behind a key, has the rest).
  app.get('/v1/agent/status', async (c) => {
    const at = now();
    return c.json({
      agentId: deps.config.agentId,
      engine: deps.engine.kind,
      version: deps.config.version ?? null,
      draining: jobs.draining,
      activeJobs: jobs.active,
      maxConcurrentJobs: jobs.capacity,
      queuedJobs: jobs.queued,
      runningJobs: jobs.jobs().map((j) => ({ model: j.model, ageMs: at - j.startedAt })),
      models: await deps.engine.listModels(),
    });
  });

  const metrics = deps.metrics;
  if (metrics) {
    app.get(
      '/metrics',
      secretOrLoopback({
        secret: deps.metricsToken,
        prefix: 'metrics',
        setting: 'METRICS_TOKEN',
        what: 'metrics',
        remoteAddress: deps.remoteAddress,
      }),
      async (c) => {
        const { contentType, body } = await metrics.render();
        return c.body(body, 200, { 'content-type': contentType });
      },
    );
  }

  registerOpenAIRoutes(app, jobDeps);
  registerOllamaRoutes(app, jobDeps);
  registerEmbeddingRoutes(app, jobDeps);

  app.notFound((c) => {
    const err = new AgentHttpError('route_not_found', `no route for ${c.req.method} ${c.req.path}`);
    return c.json(errorBodyFor(c.req.path, err), 404);
  });

  app.onError((thrown, c) => {
    const err = toHttpError(thrown);
    if (err.status >= 500) {
      log.error('request failed', {
        path: c.req.path,
        code: err.code,
        error: thrown instanceof Error ? thrown.message : String(thrown),
      });
    }
    if (err.retryAfterSeconds !== undefined) {
      c.header('Retry-After', String(err.retryAfterSeconds));
    }
    return c.json(errorBodyFor(c.req.path, err), err.status);
  });

  return app;
}
