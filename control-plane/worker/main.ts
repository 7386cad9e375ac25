// Workers entry: D1 through drizzle, ticket key from a secret, periodic upkeep from a cron trigger.
import type { D1Database, ExecutionContext, ScheduledController } from '@cloudflare/workers-types';
import { drizzle } from 'drizzle-orm/d1';
import { openAIErrorBody } from '../../protocol/dialects.ts';
import * as schema from '../../schema/tables.ts';
import { createApp } from '../core/app.ts';
import { loadConfig } from '../core/config.ts';
import type { ConfigSource } from '../core/config-values.ts';
import type { Deps } from '../core/deps.ts';
import { ApiError } from '../core/errors.ts';
import { runMaintenance } from '../core/maintenance.ts';
import { RateLimiter } from '../core/rate-limit.ts';
import { jsonLogger, systemClock } from '../core/runtime.ts';
import { createPolicy } from '../core/scheduler/index.ts';
import { Scoreboard } from '../core/scoreboard.ts';
import { type Db, sqliteStore } from '../core/storage/sqlite/index.ts';
import {
  createTicketSigner,
  DEFAULT_TICKET_ALG,
  generatePrivateKeyPem,
  type TicketAlg,
} from '../core/tickets.ts';
import { ViewCache } from '../core/view-cache.ts';
import { analyticsEvents } from './analytics.ts';

export interface WorkerEnv {
  DB: D1Database;
  /** Workers Analytics Engine dataset for the core's events (wrangler.toml); optional. */
  EVENTS?: unknown;
  TICKET_PRIVATE_KEY?: string;
  /** The key before the last rotation (private or public PEM), kept in the JWKS. */
  TICKET_PREVIOUS_KEY?: string;
  [name: string]: unknown;
}

/** The string-valued vars and secrets, which is all the config reader looks at. */
function vars(env: WorkerEnv): ConfigSource {
  const out: ConfigSource = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') out[k] = v;
  return out;
}

const log = jsonLogger({ svc: 'control-plane' });
let cached: { settings: string; deps: Promise<Deps> } | undefined;
let ephemeralKey: Promise<string> | undefined;

// Only the default export may leave this module: workerd takes every named export for a handler.

/** A missing secret: the Worker answers every request with this instead of serving. */
class MissingSecretError extends Error {}

const MISSING_TICKET_KEY =
  'The control plane is not configured: the TICKET_PRIVATE_KEY secret is missing. Set it with ' +
  '`titan-control-plane keys generate-ticket-key | npx wrangler secret put TICKET_PRIVATE_KEY` ' +
  '(docs/deploy-cloudflare.md), or set AUTH_MODE=development for a local ephemeral key.';

/** The store over this request's D1 binding. */
function storeOf(env: WorkerEnv) {
  return sqliteStore(drizzle(env.DB as never, { schema }) as unknown as Db);
}

async function buildDeps(env: WorkerEnv): Promise<Deps> {
  const config = loadConfig(vars(env));
  // Unset, the key's own algorithm (createTicketSigner); set, it must match the key.
  const alg = (vars(env).TICKET_ALG || undefined) as TicketAlg | undefined;
  let pem = env.TICKET_PRIVATE_KEY?.replace(/\\n/g, '\n');
  if (!pem) {
    // Every isolate would sign with its own key, and tickets from one would fail against the
    // JWKS served by another: only development mode (`wrangler dev`, one isolate) may do that.
    if (config.authMode !== 'development') throw new MissingSecretError(MISSING_TICKET_KEY);
    log.warn('DEVELOPMENT MODE: no TICKET_PRIVATE_KEY secret, using an ephemeral key');
    ephemeralKey ??= generatePrivateKeyPem(alg ?? DEFAULT_TICKET_ALG);
    pem = await ephemeralKey;
  }
  if (config.authMode === 'development') {
    log.warn('DEVELOPMENT MODE: AUTH_MODE=development, clients need no API key');
  }
  const previousAlg = vars(env).TICKET_PREVIOUS_ALG as TicketAlg | undefined;
  const signer = await createTicketSigner({
    issuer: config.issuer,
    privateKeyPem: pem,
    alg,
    previousKeyPem: env.TICKET_PREVIOUS_KEY?.replace(/\\n/g, '\n'),
    previousAlg: previousAlg || undefined,
  });
  return {
    store: storeOf(env),
    clock: systemClock,
    signer,
    config,
    scheduler: createPolicy(vars(env).SCHEDULER, vars(env).SCHEDULER_WEIGHTS),
    scoreboard: new Scoreboard(),
    views: new ViewCache(config.viewCacheTtlMs),
    // Per isolate: a key's limit is exact per isolate, approximate across a busy deployment.
    limiter: new RateLimiter(),
    log,
  };
}

function depsFor(env: WorkerEnv): Promise<Deps> {
  // Every var and secret, key material included: a change rebuilds (a missing secret too).
  const settings = JSON.stringify(vars(env));
  if (!cached || cached.settings !== settings) {
    cached = { settings, deps: buildDeps(env) };
  }
  // Bindings can change between requests (tests, redeploys); the database handle follows them.
  return cached.deps.then((d) => ({
    ...d,
    store: storeOf(env),
    events: analyticsEvents(env.EVENTS),
  }));
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    let deps: Deps;
    try {
      deps = await depsFor(env);
    } catch (err) {
      if (!(err instanceof MissingSecretError)) throw err;
      log.error('refusing to serve', { error: err.message });
      return Response.json(openAIErrorBody(new ApiError('internal_error', err.message)), {
        status: 500,
      });
    }
    return createApp(deps).fetch(request, env, ctx as never);
  },
  async scheduled(_controller: ScheduledController, env: WorkerEnv, ctx: ExecutionContext) {
    // Without its secrets the Worker does no upkeep either; the error lands in the cron log.
    const deps = await depsFor(env);
    ctx.waitUntil(
      runMaintenance(deps.store, deps.config, deps.clock.now(), undefined, deps.events).then((r) =>
        log.info('maintenance', { ...r }),
      ),
    );
  },
};
