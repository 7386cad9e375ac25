// Admin API for the fleet (Bearer ADMIN_KEY, mounted under /admin): list agents, drain, undrain.
import { Hono } from 'hono';
import { z } from 'zod';
import { effectiveState } from '../breakers/health.ts';
import type { AdminDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';

const idParam = z.string().min(1).max(128);

export function adminAgentRoutes(deps: AdminDeps) {
  const { store, clock, config, log } = deps;
  const app = new Hono();

  app.get('/', async (c) => {
    const now = clock.now();
    const [rows, models, leases] = await Promise.all([
      store.agents.list(),
      store.agents.models(),
      store.tickets.leaseCounts(now),
    ]);
    return c.json({
      agents: rows
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((a) => ({
          id: a.id,
          url: a.url,
          state: a.drainedAt === null ? effectiveState(a, now, config) : 'drained',
          drainedAt: a.drainedAt === null ? null : new Date(a.drainedAt).toISOString(),
          engine: a.engine,
          version: a.version,
          models: models.filter((m) => m.agentId === a.id).map((m) => m.model),
          slots: { reserved: leases.get(a.id) ?? 0, max: a.maxJobs },
          lastHeartbeatAgoMs: now - a.lastHeartbeatAt,
        })),
    });
  });

  const mark = (drain: boolean) =>
    app.post(`/:id/${drain ? 'drain' : 'undrain'}`, async (c) => {
      const id = idParam.parse(c.req.param('id'));
      if (!(await store.agents.setDrained(id, drain ? clock.now() : null))) {
        throw new ApiError('agent_not_found', `No agent '${id}'`);
      }
      await deps.views?.refreshAgent(store.agents, id, clock.now());
      log.info(drain ? 'agent drained' : 'agent undrained', { id });
      return c.json({ id, drained: drain });
    });
  mark(true);
  mark(false);
  return app;
}
