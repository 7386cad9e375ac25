// Workers entry: D1 through drizzle, ticket key from a secret, periodic upkeep from a cron trigger.
import type { D1Database, ExecutionContext, ScheduledController } from '@cloudflare/workers-types';
import { drizzle } from 'drizzle-orm/d1';
import * as schema from '../schema/tables.ts';
import { createApp } from './app.ts';
import { type ConfigSource, loadConfig } from './config.ts';
import type { Db } from './db.ts';
import type { Deps } from './deps.ts';
import { runMaintenance } from './maintenance.ts';
import { RateLimiter } from './rate-limit.ts';
import { jsonLogger, systemClock } from './runtime.ts';
import { createPolicy } from './scheduler/index.ts';
import { Scoreboard } from './scoreboard.ts';
import { createTicketSigner, generatePrivateKeyPem, type TicketAlg } from './tickets.ts';
import { ViewCache } from './view-cache.ts';

export interface WorkerEnv {
  DB: D1Database;
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
let cached: { keyMaterial: string; deps: Promise<Deps> } | undefined;
let ephemeralKey: Promise<string> | undefined;

async function buildDeps(env: WorkerEnv): Promise<Deps> {
  const config = loadConfig(vars(env));
  const alg = (vars(env).TICKET_ALG || 'RS256') as TicketAlg;
  let pem = env.TICKET_PRIVATE_KEY?.replace(/\\n/g, '\n');
  if (!pem) {
    // Only sensible for `wrangler dev`: every isolate would otherwise sign with its own key.
    log.warn('DEVELOPMENT MODE: no TICKET_PRIVATE_KEY secret, using an ephemeral key');
    ephemeralKey ??= generatePrivateKeyPem(alg);
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
    db: drizzle(env.DB as never, { schema }) as unknown as Db,
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
  const keyMaterial = `${env.TICKET_PRIVATE_KEY}|${env.TICKET_PREVIOUS_KEY}`;
  if (!cached || cached.keyMaterial !== keyMaterial) {
    cached = { keyMaterial, deps: buildDeps(env) };
  }
  // Bindings can change between requests (tests, redeploys); the database handle follows them.
  return cached.deps.then((d) => ({
    ...d,
    db: drizzle(env.DB as never, { schema }) as unknown as Db,
  }));
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    const deps = await depsFor(env);
    return createApp(deps).fetch(request, env, ctx as never);
  },
  async scheduled(_controller: ScheduledController, env: WorkerEnv, ctx: ExecutionContext) {
    const deps = await depsFor(env);
    ctx.waitUntil(
      runMaintenance(deps.db, deps.config, deps.clock.now()).then((r) =>
        log.info('maintenance', { ...r }),
      ),
    );
  },
};
