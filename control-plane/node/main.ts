// Node entry: SQLite (./sqlite.ts), key file, @hono/node-server, maintenance timer.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ServerType, serve } from '@hono/node-server';
import { createApp } from '../core/app.ts';
import { loadConfig, MIN_SECRET_LENGTH, weakSecrets } from '../core/config.ts';
import { type ConfigSource, parseDuration } from '../core/config-values.ts';
import { runMaintenance } from '../core/maintenance.ts';
import { RateLimiter } from '../core/rate-limit.ts';
import { jsonLogger, systemClock } from '../core/runtime.ts';
import { createPolicy } from '../core/scheduler/index.ts';
import { Scoreboard } from '../core/scoreboard.ts';
import { createTicketSigner, type TicketAlg } from '../core/tickets.ts';
import { ViewCache } from '../core/view-cache.ts';
import { assertSafeBind, serveOptions } from './http.ts';
import { loadOrCreatePrivateKey } from './keys.ts';
import { createMetrics } from './metrics.ts';
import { openSqlite } from './sqlite.ts';

export interface RunningControlPlane {
  url: string;
  close(): Promise<void>;
}

/** The previous ticket key (kept in the JWKS after a rotation): env PEM, else the key file. */
function previousKey(env: ConfigSource, dataDir: string): string | undefined {
  if (env.TICKET_PREVIOUS_KEY) return env.TICKET_PREVIOUS_KEY.replace(/\\n/g, '\n');
  const file = env.TICKET_PREVIOUS_KEY_FILE || join(dataDir, 'ticket-key.previous.pem');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

export async function startControlPlane(env: ConfigSource): Promise<RunningControlPlane> {
  const log = jsonLogger({ svc: 'control-plane' });
  const config = loadConfig(env);
  const hostname = env.HOST || '127.0.0.1';
  assertSafeBind({ authMode: config.authMode, host: hostname, insecure: env.INSECURE === '1' });
  const serving = serveOptions({
    certFile: env.TLS_CERT,
    keyFile: env.TLS_KEY,
    headersTimeoutMs: parseDuration(env.HEADERS_TIMEOUT, 10_000, 'HEADERS_TIMEOUT'),
    requestTimeoutMs: parseDuration(env.REQUEST_TIMEOUT, 30_000, 'REQUEST_TIMEOUT'),
  });
  const dataDir = resolve(env.DATA_DIR || '.data');
  const { store, sqlite } = openSqlite(env.DATABASE_PATH || join(dataDir, 'control-plane.db'));
  const alg = (env.TICKET_ALG || 'RS256') as TicketAlg;
  const key = await loadOrCreatePrivateKey({
    envPem: env.TICKET_PRIVATE_KEY,
    keyFile: env.TICKET_KEY_FILE || join(dataDir, 'ticket-key.pem'),
    alg,
  });
  const signer = await createTicketSigner({
    issuer: config.issuer,
    privateKeyPem: key.pem,
    alg,
    previousKeyPem: previousKey(env, dataDir),
    previousAlg: (env.TICKET_PREVIOUS_ALG || undefined) as TicketAlg | undefined,
  });
  const deps = {
    store,
    clock: systemClock,
    signer,
    config,
    scheduler: createPolicy(env.SCHEDULER, env.SCHEDULER_WEIGHTS),
    scoreboard: new Scoreboard(),
    views: new ViewCache(config.viewCacheTtlMs),
    limiter: new RateLimiter(),
    log,
  };
  const app = createApp({ ...deps, metrics: createMetrics(deps) });

  const maintenanceMs = parseDuration(env.MAINTENANCE_INTERVAL, 5_000, 'MAINTENANCE_INTERVAL');
  const timer = setInterval(() => {
    runMaintenance(deps.store, config, systemClock.now())
      .then((r) => {
        if (r.expiredTickets || r.agentsMarkedOffline || r.agentsRemoved) deps.views.invalidate();
        if (r.expiredTickets || r.agentsMarkedOffline || r.agentsRemoved || r.ticketsDeleted)
          log.info('maintenance', { ...r });
      })
      .catch((err: unknown) => log.error('maintenance failed', { error: String(err) }));
  }, maintenanceMs);
  timer.unref();

  const port = Number(env.PORT || 8080);
  for (const name of weakSecrets(config)) {
    log.warn(`${name} is shorter than ${MIN_SECRET_LENGTH} characters: use a generated secret`);
  }
  if (config.authMode === 'development') {
    log.warn('DEVELOPMENT MODE: AUTH_MODE=development, clients need no API key');
    if (!config.joinToken) log.warn('DEVELOPMENT MODE: no JOIN_TOKEN set, any agent may register');
  }
  const server: ServerType = await new Promise((ok) => {
    const s = serve({ fetch: app.fetch, port, hostname, ...serving }, () => ok(s));
  });
  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `${'createServer' in serving ? 'https' : 'http'}://${hostname.includes(':') ? `[${hostname}]` : hostname}:${boundPort}`;
  log.info('control plane listening', {
    url,
    auth: config.authMode,
    keyId: signer.kid,
    jwksKeys: signer.jwks().keys.length,
    alg,
    keySource: key.source,
  });
  return {
    url,
    async close() {
      clearInterval(timer);
      await new Promise<void>((ok) => server.close(() => ok()));
      sqlite.close();
    },
  };
}
