// Read-only endpoints: model lists (OpenAI and Ollama shapes), fleet status, JWKS, health.
import { Hono } from 'hono';
import { JWKS_PATH } from '../../../protocol/agent-api.ts';
import { MODEL_LIST_PATHS } from '../../../protocol/dialects.ts';
import { joinTokenRequired } from '../agent-credentials.ts';
import { effectiveState } from '../breakers/health.ts';
import { breakerStatus, fieldsOf } from '../breakers/policy.ts';
import { liveCutoff } from '../config.ts';
import type { Deps } from '../deps.ts';

async function liveModels(deps: Deps) {
  const now = deps.clock.now();
  const rows = await deps.store.agents.routableModels(liveCutoff(deps.config, now));
  const byName = new Map<
    string,
    { memoryBytes: number; since: number; agents: number; quantizations: string[] }
  >();
  for (const r of rows) {
    const prev = byName.get(r.model);
    const quantizations = prev?.quantizations ?? [];
    if (r.quantization && !quantizations.includes(r.quantization)) {
      quantizations.push(r.quantization);
      quantizations.sort();
    }
    byName.set(r.model, {
      memoryBytes: Math.max(prev?.memoryBytes ?? 0, r.memoryBytes ?? 0),
      since: Math.min(prev?.since ?? r.since, r.since),
      agents: (prev?.agents ?? 0) + 1,
      quantizations,
    });
  }
  return [...byName.entries()].sort(([a], [b]) => a.localeCompare(b));
}

export function infoRoutes(deps: Deps) {
  const app = new Hono();

  app.get(MODEL_LIST_PATHS.openAI, async (c) => {
    const models = await liveModels(deps);
    return c.json({
      object: 'list',
      data: models.map(([id, m]) => ({
        id,
        object: 'model',
        created: Math.floor(m.since / 1000),
        owned_by: 'titancompute',
        // Every GGUF type the live agents serve it in (one agent may run Q4_1, another Q8_0).
        quantizations: m.quantizations,
      })),
    });
  });

  app.get(MODEL_LIST_PATHS.ollama, async (c) => {
    const models = await liveModels(deps);
    return c.json({
      models: models.map(([name, m]) => ({
        name,
        model: name,
        modified_at: new Date(m.since).toISOString(),
        size: m.memoryBytes,
        digest: '',
        details: {
          format: 'gguf',
          family: '',
          parameter_size: '',
          quantization_level: m.quantizations.join(','),
        },
      })),
    });
  });

  app.get('/v1/status', async (c) => {
    const now = deps.clock.now();
    const [agentRows, modelRows, leases] = await Promise.all([
      deps.store.agents.list(),
      deps.store.agents.models(),
      deps.store.tickets.leaseCounts(now),
    ]);
    return c.json({
      scheduler: deps.scheduler.name,
      rttSignal:
        'agent heartbeat RTT to the control plane; client distance when request.cf has a location (Workers)',
      auth: deps.config.authMode,
      joinTokenRequired: joinTokenRequired(deps.config),
      agents: agentRows
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((a) => ({
          id: a.id,
          url: a.url,
          state: a.drainedAt === null ? effectiveState(a, now, deps.config) : 'drained',
          breaker: breakerStatus(fieldsOf(a), now, deps.config.breaker),
          engine: a.engine,
          version: a.version,
          slots: { reserved: leases.get(a.id) ?? 0, reported: a.reportedJobs, max: a.maxJobs },
          lastHeartbeatAgoMs: now - a.lastHeartbeatAt,
          rttMs: a.rttMs,
          tokensPerSecond: a.tokensPerSecond,
          models: modelRows
            .filter((m) => m.agentId === a.id)
            .map((m) => ({
              name: m.model,
              loaded: m.loaded,
              memoryBytes: m.memoryBytes,
              quantization: m.quantization,
            })),
          memory: {
            accelerator: a.accelerator,
            freeBytes: a.memoryFreeBytes,
            totalBytes: a.memoryTotalBytes,
          },
          location: a.latitude === null ? null : { latitude: a.latitude, longitude: a.longitude },
          ...(deps.scoreboard?.forAgent(a.id) ?? {}),
          stats: JSON.parse(a.stats) as unknown,
        })),
    });
  });

  app.get(JWKS_PATH, (c) => {
    c.header('Cache-Control', 'public, max-age=60');
    return c.json(deps.signer.jwks());
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', async (c) => {
    const now = deps.clock.now();
    const live = await deps.store.agents.hasRoutable(liveCutoff(deps.config, now));
    return live
      ? c.json({ status: 'ready' })
      : c.json({ status: 'not ready', reason: 'no live agent' }, 503);
  });

  return app;
}
