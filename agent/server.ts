// Runs an agent on Node: engine, HTTP server, control-plane loop, and graceful shutdown.
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import type { RegisterResponse } from '../protocol/agent-api.ts';
import { createAgentApp } from './app.ts';
import { type AgentConfig, agentUrl, engineSelection, unreachableAdvertisement } from './config.ts';
import { announceOffline, ControlPlaneClient } from './control-plane-client.ts';
import { fileCredentialStore } from './credential-store.ts';
import { useEmbeddedEngineHome } from './engines/embedded-module.ts';
import type { InferenceEngine } from './engines/engine.ts';
import { chooseEngine, selectEngine } from './engines/select.ts';
import { JobTracker } from './jobs.ts';
import { createLogger, type Logger } from './log.ts';
import { AgentMetrics } from './metrics.ts';
import { createModelStack, usesModelManager } from './models/setup.ts';
import { applyMemoryLimit } from './placement.ts';
import { PrefixRecord } from './prefix-record.ts';
import { createStatsCollector, type StatsCollector } from './stats.ts';
import { DeferredTicketVerifier, remoteKeySource } from './tickets.ts';
import { fetchTrusting, tlsServeOptions } from './tls.ts';
import { packageVersion } from './version.ts';

export interface StartOverrides {
  /** Use this engine instead of selecting one (tests). */
  engine?: InferenceEngine;
  stats?: StatsCollector;
  fetch?: typeof fetch;
  log?: Logger;
  /** Told of every registration (the supervisor learns the agent's credential this way). */
  onRegistered?(registration: RegisterResponse): void;
}

export interface RunningAgent {
  readonly config: AgentConfig;
  /** The URL registered with the control plane. */
  readonly url: string;
  readonly port: number;
  readonly engine: InferenceEngine;
  readonly jobs: JobTracker;
  readonly controlPlane: ControlPlaneClient;
  /** Stops accepting work, waits for in-flight jobs (up to drainTimeoutMs), then closes. */
  shutdown(reason?: string): Promise<void>;
}

export async function startAgent(
  config: AgentConfig,
  overrides: StartOverrides = {},
): Promise<RunningAgent> {
  const log = overrides.log ?? createLogger({ json: config.logFormat === 'json' });
  if (!config.controlPlaneUrl) {
    throw new Error('a control plane URL is required (--control-plane-url or CONTROL_PLANE_URL)');
  }
  const controlPlaneUrl = config.controlPlaneUrl;
  if (!config.joinToken)
    log.warn('no JOIN_TOKEN set: the control plane must be in development mode');

  // Read at scrape time; the engine and the job tracker exist by the first scrape.
  let gauges: { jobs: JobTracker; engine: InferenceEngine } | undefined;
  const metrics = new AgentMetrics({
    slots: () => ({
      active: gauges?.jobs.active ?? 0,
      max: gauges?.jobs.capacity ?? 0,
      queued: gauges?.jobs.queued ?? 0,
      draining: gauges?.jobs.draining ?? false,
    }),
    engineLoad: async () => gauges?.engine.load?.(),
  });
  const selection = {
    ...engineSelection(config),
    ...(overrides.fetch ? { fetch: overrides.fetch } : {}),
    log,
  };
  useEmbeddedEngineHome({ dataDir: config.dataDir, install: config.engineInstall === true, log });
  const choice = overrides.engine ? undefined : await chooseEngine(selection);
  if (choice) log.info(`engine ${choice.kind}`, { reason: choice.reason });
  // With a model catalog the engine is the model manager (several variants, best fit, LRU); its
  // variants load into the chosen engine (a llama-server child each, or the embedded llama.cpp).
  const models =
    choice && usesModelManager(config)
      ? await createModelStack({ ...config, engine: choice.kind }, log, metrics)
      : undefined;
  const engineStarted = performance.now();
  const engine: InferenceEngine =
    overrides.engine ??
    models?.manager ??
    (await selectEngine({ ...selection, ...(choice ? { engine: choice.kind } : {}) }));
  // The embedded engine loads its one model as it starts: that is the model's load time.
  if (
    !models &&
    !overrides.engine &&
    (engine.kind === 'llama-cpp' || engine.kind === 'llama-server')
  ) {
    const seconds = (performance.now() - engineStarted) / 1000;
    for (const m of await engine.listModels()) metrics.modelLoaded(m.name, seconds);
  }
  const version = packageVersion();
  // The engine may fix its own parallelism (e.g. OLLAMA_NUM_PARALLEL); slots follow it.
  const capacity = engine.capacity ?? config.maxConcurrentJobs;
  const jobs = new JobTracker(capacity, Date.now, config.maxQueue);
  gauges = { jobs, engine };
  const prefixes = new PrefixRecord(Math.max(engine.cachedSequences ?? 0, capacity));
  const tickets = new DeferredTicketVerifier();
  const stats = overrides.stats ?? createStatsCollector({ log });
  let client: ControlPlaneClient | undefined;

  const app = createAgentApp({
    engine,
    tickets,
    reportJob: (jti, report) => client?.reportJob(jti, report),
    confirmAdmission: async (jti) => client?.confirmAdmission(jti) ?? 'unconfirmed',
    config: {
      agentId: config.agentId,
      maxConcurrentJobs: capacity,
      version,
      ...(config.corsOrigins ? { corsOrigins: config.corsOrigins } : {}),
    },
    jobs,
    log,
    metrics,
    metricsToken: config.metricsToken,
    prefixes,
  });
  if (models) app.route('/admin', models.admin);

  const tls = tlsServeOptions(config.tlsCert, config.tlsKey);
  const server = await listen(app.fetch, config.host, config.port, tls).catch(
    async (err: unknown) => {
      await engine.close();
      throw err;
    },
  );
  // Calls to the control plane (registration, heartbeats, reports, JWKS) verify its certificate.
  const cpFetch =
    overrides.fetch ?? (config.controlPlaneCa ? fetchTrusting(config.controlPlaneCa) : undefined);
  const port = (server.address() as AddressInfo).port;
  const url = agentUrl(config, port);
  const unreachable = unreachableAdvertisement(url, controlPlaneUrl);
  if (unreachable) log.warn(`WARNING: ${unreachable}`);

  client = new ControlPlaneClient({
    baseUrl: controlPlaneUrl,
    ...(config.stateDir
      ? { credentialStore: fileCredentialStore(config.stateDir, config.agentId) }
      : {}),
    ...(config.joinToken ? { joinToken: config.joinToken } : {}),
    identity: {
      id: config.agentId,
      url,
      maxConcurrentJobs: capacity,
      engine: engine.kind,
      version,
      ...(config.location ? { location: config.location } : {}),
    },
    snapshot: async () => {
      const [models, machine, engineLoad] = await Promise.all([
        engine.listModels(),
        stats.collect(),
        engine.load?.().catch(() => undefined),
      ]);
      const limit = config.memoryLimitBytes;
      return {
        models,
        stats: limit ? applyMemoryLimit(machine, limit, process.memoryUsage().rss) : machine,
        ...(engineLoad ? { engineLoad } : {}),
      };
    },
    load: () => ({
      activeJobs: jobs.active,
      queuedJobs: jobs.queued,
      runningJobs: jobs.runningJobs(),
      draining: jobs.draining,
      prefixes: prefixes.held(),
    }),
    onRegistered: (registration) => {
      const jwksUrl = new URL(registration.jwksUrl, `${controlPlaneUrl}/`).toString();
      tickets.setTrust(
        {
          audience: registration.agentId,
          issuer: registration.issuer,
          keys: remoteKeySource(jwksUrl, cpFetch ? { fetch: cpFetch } : {}),
          registeredAt: registration.registeredAt,
        },
        `${registration.agentId}|${registration.issuer}|${jwksUrl}`,
      );
      overrides.onRegistered?.(registration);
    },
    ...(cpFetch ? { fetch: cpFetch } : {}),
    log,
  });
  client.start();

  const controlPlane = client;
  let closing: Promise<void> | undefined;
  const shutdown = (reason = 'shutdown') => {
    closing ??= (async () => {
      log.info('draining', { reason, activeJobs: jobs.active });
      jobs.draining = true;
      // Tell the control plane at once so it stops routing here.
      await controlPlane.heartbeatNow().catch(() => false);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      const idle = await jobs.waitIdle(config.drainTimeoutMs);
      if (!idle) log.warn('drain timeout: abandoning in-flight jobs', { activeJobs: jobs.active });
      await controlPlane.stop(2000);
      // Heartbeats have stopped: say so, and read offline at once rather than at the timeout.
      const registration = controlPlane.registration;
      if (registration) {
        const told = await announceOffline({
          baseUrl: controlPlaneUrl,
          agentId: registration.agentId,
          credential: registration.credential,
          body: { reason: 'stopped' },
          ...(cpFetch ? { fetch: cpFetch } : {}),
        });
        if (told.ok) log.info('drained: control plane told the agent is going offline');
        else
          log.warn('could not tell the control plane the agent is offline', {
            error: told.error,
            status: told.status,
          });
      }
      // A finished job frees its slot and reports before its final chunk leaves: give those last
      // writes a moment before cutting whatever connections are left.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
      clearTimeout(timer);
      if ('closeAllConnections' in server) server.closeAllConnections();
      await closed;
      await engine.close();
      log.info('stopped');
    })();
    return closing;
  };

  return { config, url, port, engine, jobs, controlPlane, shutdown };
}

function listen(
  fetchHandler: (request: Request) => Response | Promise<Response>,
  hostname: string,
  port: number,
  tls: ReturnType<typeof tlsServeOptions>,
): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: fetchHandler, hostname, port, ...tls }, () => {
      server.off('error', reject);
      resolve(server);
    });
    server.once('error', reject);
  });
}
