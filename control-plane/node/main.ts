// Node entry: SQLite (./sqlite.ts), key file, @hono/node-server, maintenance timer.
import { existsSync, readFileSync } from 'node:fs';
import { type ServerType, serve } from '@hono/node-server';
import { createApp } from '../core/app.ts';
import { loadConfig, MIN_SECRET_LENGTH, weakSecrets } from '../core/config.ts';
import type { ConfigSource } from '../core/config-values.ts';
import { CredentialCache } from '../core/credential-cache.ts';
import { runMaintenance } from '../core/maintenance.ts';
import { RateLimiter } from '../core/rate-limit.ts';
import { jsonLogger, systemClock } from '../core/runtime.ts';
import { createPolicy } from '../core/scheduler/index.ts';
import { Scoreboard } from '../core/scoreboard.ts';
import { createTicketSigner } from '../core/tickets.ts';
import { ViewCache } from '../core/view-cache.ts';
import { assertSafeBind, serveOptions } from './http.ts';
import { loadOrCreatePrivateKey } from './keys.ts';
import { createMetrics } from './metrics.ts';
import { loadNodeSettings, type NodeSettings } from './settings.ts';
import { sha256HexSync } from './sha256.ts';
import { openSqlite } from './sqlite.ts';
import { nodeSyncSignature } from './sync-signature.ts';

export interface RunningControlPlane {
  url: string;
  close(): Promise<void>;
}

/** The previous ticket key (kept in the JWKS after a rotation): env PEM, else the key file. */
function previousKey(settings: NodeSettings): { pem: string; source: string } | undefined {
  if (settings.previousKeyPem)
    return { pem: settings.previousKeyPem, source: 'TICKET_PREVIOUS_KEY' };
  const file = settings.previousKeyFile;
  return existsSync(file)
    ? { pem: readFileSync(file, 'utf8'), source: `the key file ${file}` }
    : undefined;
}

export async function startControlPlane(env: ConfigSource): Promise<RunningControlPlane> {
  const log = jsonLogger({ svc: 'control-plane' });
  const config = loadConfig(env);
  const settings = loadNodeSettings(env);
  const hostname = settings.host;
  assertSafeBind({ authMode: config.authMode, host: hostname, insecure: settings.insecure });
  const serving = serveOptions({
    certFile: settings.tlsCert,
    keyFile: settings.tlsKey,
    headersTimeoutMs: settings.headersTimeoutMs,
    requestTimeoutMs: settings.requestTimeoutMs,
  });
  const key = await loadOrCreatePrivateKey({
    envPem: settings.ticketPrivateKeyPem,
    keyFile: settings.ticketKeyFile,
    alg: settings.ticketAlg,
  });
  const previous = previousKey(settings);
  // Each key's algorithm is its own unless TICKET_ALG / TICKET_PREVIOUS_ALG pin it.
  const signer = await createTicketSigner({
    syncSignature: nodeSyncSignature,
    issuer: config.issuer,
    privateKeyPem: key.pem,
    alg: settings.ticketAlg,
    keySource:
      key.source === 'TICKET_PRIVATE_KEY' ? key.source : `the key file ${settings.ticketKeyFile}`,
    previousKeyPem: previous?.pem,
    previousAlg: settings.previousAlg,
    previousKeySource: previous?.source,
  });
  const { store, sqlite } = openSqlite(settings.databasePath);
  const deps = {
    store,
    clock: systemClock,
    signer,
    config,
    scheduler: createPolicy(settings.scheduler, settings.schedulerWeights),
    scoreboard: new Scoreboard(),
    views: new ViewCache(config.viewCacheTtlMs, { readBehind: true }),
    credentials: new CredentialCache(sha256HexSync),
    limiter: new RateLimiter(),
    log,
  };
  const metrics = createMetrics(deps);
  const app = createApp({ ...deps, metrics, events: metrics.events });

  const maintenanceMs = settings.maintenanceMs;
  const timer = setInterval(() => {
    runMaintenance(deps.store, config, systemClock.now(), undefined, metrics.events)
      .then((r) => {
        if (r.expiredTickets || r.agentsMarkedOffline || r.agentsRemoved) deps.views.invalidate();
        if (r.agentsRemoved) deps.credentials.clear();
        if (r.expiredTickets || r.agentsMarkedOffline || r.agentsRemoved || r.ticketsDeleted)
          log.info('maintenance', { ...r });
      })
      .catch((err: unknown) => log.error('maintenance failed', { error: String(err) }));
  }, maintenanceMs);
  timer.unref();

  const port = settings.port;
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
    alg: signer.alg,
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
