// Agent-facing API: register, heartbeat, job reports.
import { Hono } from 'hono';
import { z } from 'zod';
import {
  heartbeatRequestSchema,
  jobReportSchema,
  registerRequestSchema,
} from '../../protocol/agent-api.ts';
import { readBody } from '../body.ts';
import { recordFailure, recordSuccess } from '../breakers/outcomes.ts';
import type { Deps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { requireJoinToken } from '../join-token.ts';
import {
  finishTicket,
  getAgent,
  recordHeartbeat,
  replaceModels,
  upsertAgent,
} from '../registry.ts';

const jtiParam = z.string().min(1).max(100);

export function agentRoutes(deps: Deps) {
  const { db, clock, config, log } = deps;
  const app = new Hono();
  app.use('*', requireJoinToken(config.joinToken));

  app.post('/register', async (c) => {
    const reg = await readBody(c, registerRequestSchema);
    await upsertAgent(
      db,
      {
        id: reg.id,
        url: reg.url.replace(/\/+$/, ''),
        engine: reg.engine,
        version: reg.version,
        maxJobs: reg.maxConcurrentJobs,
        models: reg.models,
        stats: reg.stats,
        location: reg.location,
      },
      clock.now(),
    );
    log.info('agent registered', {
      agent: reg.id,
      url: reg.url,
      models: reg.models.map((m) => m.name),
    });
    const jwksUrl = new URL('/.well-known/jwks.json', c.req.url).toString();
    return c.json({
      agentId: reg.id,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      issuer: config.issuer,
      jwksUrl,
    });
  });

  app.post('/:id/heartbeat', async (c) => {
    const id = c.req.param('id');
    const hb = await readBody(c, heartbeatRequestSchema);
    const known = await recordHeartbeat(
      db,
      id,
      {
        stats: hb.stats,
        reportedJobs: hb.activeJobs,
        runningJobs: hb.runningJobs,
        draining: hb.draining ?? false,
        rttMs: hb.rttMs,
      },
      clock.now(),
      config,
    );
    if (!known)
      throw new ApiError('agent_not_found', `Agent '${id}' is not registered; register again`);
    await replaceModels(db, id, hb.models);
    return c.json({ heartbeatIntervalMs: config.heartbeatIntervalMs });
  });

  app.post('/:id/jobs/:jti', async (c) => {
    const id = c.req.param('id');
    const jti = jtiParam.parse(c.req.param('jti'));
    const report = await readBody(c, jobReportSchema);
    if (!(await getAgent(db, id)))
      throw new ApiError('agent_not_found', `Agent '${id}' is not registered`);
    const released = await finishTicket(db, id, jti, report, clock.now());
    // Breakers: engine errors count against the agent; rejected (4xx) and cancelled never do.
    if (released && report.outcome === 'error') await recordFailure(deps, id, jti);
    if (released && report.outcome === 'success') await recordSuccess(deps, id, jti);
    return c.json({ released });
  });

  return app;
}
