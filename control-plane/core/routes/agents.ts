// Agent-facing API: register, heartbeat, admissions, job reports, and the supervisor's "this agent
// died".
import { Hono } from 'hono';
import { z } from 'zod';
import {
  AGENT_CREDENTIAL_HEADER,
  AGENT_ROUTES,
  heartbeatRequestSchema,
  JWKS_PATH,
  jobReportSchema,
  offlineRequestSchema,
  registerRequestSchema,
} from '../../../protocol/agent-api.ts';
import { bearerToken } from '../../../protocol/bearer.ts';
import {
  admissionOf,
  assertMayClaimId,
  issueCredential,
  requireAgentCredential,
} from '../agent-credentials.ts';
import { limitBodyTo, readBody } from '../body.ts';
import { recordFailure, recordSuccess } from '../breakers/outcomes.ts';
import type { Deps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { noEvents } from '../events.ts';
import { assertAgentUrl, boundedSlots, noRoomError, roomFor } from '../registration-policy.ts';
import { finishTicket, recordHeartbeat } from '../registry.ts';

const jtiParam = z.string().min(1).max(100);

export function agentRoutes(deps: Deps) {
  const { store, clock, config, log } = deps;
  const events = deps.events ?? noEvents;
  const app = new Hono();
  app.use('*', limitBodyTo(1024 * 1024, 'Agent request body'));
  const agentAuth = requireAgentCredential(deps);

  app.post(AGENT_ROUTES.register, async (c) => {
    const admission = await admissionOf(deps, bearerToken(c.req.header('authorization')));
    if (!admission) {
      log.warn('registration refused: bad join token', {
        reason: c.req.header('authorization') ? 'wrong token' : 'no token',
      });
      throw new ApiError('unauthorized', 'Missing or invalid join token');
    }
    const reg = await readBody(c, registerRequestSchema);
    assertAgentUrl(reg.url, config.agentUrlHosts);
    await assertMayClaimId(deps, reg.id, c.req.header(AGENT_CREDENTIAL_HEADER));
    const slots = boundedSlots(reg);
    if (slots.flagged) {
      log.warn('agent capacity claim clamped', {
        agent: reg.id,
        claimed: reg.maxConcurrentJobs,
        allowed: slots.maxJobs,
        cpuCores: reg.stats.cpuCores,
        gpus: reg.stats.gpus.length,
      });
    }
    const registeredAt = clock.now();
    const room = roomFor(config, registeredAt, admission);
    const fitted = await store.agents.register(
      {
        id: reg.id,
        url: reg.url.replace(/\/+$/, ''),
        engine: reg.engine,
        version: reg.version,
        maxJobs: slots.maxJobs,
        models: reg.models,
        stats: reg.stats,
        location: reg.location,
        joinTokenId: admission.tokenId,
      },
      registeredAt,
      room,
    );
    if (!fitted) {
      log.warn('registration refused: no room', { agent: reg.id, joinToken: admission.tokenId });
      throw await noRoomError(deps, reg.id, room, admission);
    }
    const credential = await issueCredential(store.credentials, reg.id, deps.credentials);
    await deps.views?.refreshAgent(store.agents, reg.id, clock.now());
    log.info('agent registered', {
      agent: reg.id,
      url: reg.url,
      models: reg.models.map((m) => m.name),
    });
    const jwksUrl = new URL(JWKS_PATH, c.req.url).toString();
    return c.json({
      agentId: reg.id,
      credential,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      issuer: config.issuer,
      jwksUrl,
      registeredAt,
      ...(slots.flagged ? { maxConcurrentJobs: slots.maxJobs } : {}),
    });
  });

  app.post(AGENT_ROUTES.heartbeat, agentAuth, async (c) => {
    const id = c.req.param('id');
    const hb = await readBody(c, heartbeatRequestSchema);
    const known = await recordHeartbeat(
      store,
      id,
      {
        stats: hb.stats,
        load: { queuedJobs: hb.queuedJobs, engine: hb.engineLoad },
        reportedJobs: hb.activeJobs,
        runningJobs: hb.runningJobs,
        draining: hb.draining ?? false,
        rttMs: hb.rttMs,
        prefixes: hb.prefixes,
      },
      clock.now(),
      config,
    );
    if (!known)
      throw new ApiError('agent_not_found', `Agent '${id}' is not registered; register again`);
    events.emit({
      type: 'heartbeat',
      agent: id,
      sinceLastMs: known.sinceLastMs,
      written: known.written,
    });
    if (known.leases.confirmed > 0) {
      events.emit({ type: 'lease', change: 'confirmed', agent: id, count: known.leases.confirmed });
    }
    if (known.leases.released > 0) {
      events.emit({ type: 'lease', change: 'lost', agent: id, count: known.leases.released });
    }
    const modelsChanged = await store.agents.replaceModels(id, hb.models);
    if (modelsChanged || !known.view) await deps.views?.refreshAgent(store.agents, id, clock.now());
    else deps.views?.patchAgent(id, known.view);
    return c.json({ heartbeatIntervalMs: config.heartbeatIntervalMs });
  });

  // The agent admitted a ticket's job: its lease is confirmed (running) until the job report. One
  // row written per job, the same as the heartbeat would write (docs/adr/0009), but at once.
  app.post(AGENT_ROUTES.jobAdmitted, agentAuth, async (c) => {
    const id = c.req.param('id');
    const jti = jtiParam.parse(c.req.param('jti'));
    const result = await store.tickets.confirmLease(id, jti, clock.now());
    events.emit({
      type: 'lease',
      change: result === 'admitted' ? 'confirmed' : 'refused',
      agent: id,
      count: 1,
    });
    if (result === 'admitted') return c.json({ admitted: true as const });
    const why = {
      unknown: 'this control plane issued no such ticket to this agent',
      finished: 'the ticket was already closed (reported, cancelled, expired or lost)',
      lapsed: 'the ticket was not confirmed within its claim window and the slot was taken since',
    } satisfies Record<Exclude<typeof result, 'admitted'>, string>;
    log.warn('admission refused', { requestId: jti, agent: id, reason: result });
    throw new ApiError('lease_refused', `Admission of ticket ${jti} refused: ${why[result]}`);
  });

  app.post(AGENT_ROUTES.jobReport, agentAuth, async (c) => {
    const id = c.req.param('id');
    const jti = jtiParam.parse(c.req.param('jti'));
    const report = await readBody(c, jobReportSchema);
    if (!(await store.agents.get(id)))
      throw new ApiError('agent_not_found', `Agent '${id}' is not registered`);
    const released = await finishTicket(store, id, jti, report, clock.now());
    if (released) {
      deps.views?.adjustSlots(id, -1);
      events.emit({ type: 'lease', change: 'released', agent: id, count: 1 });
      events.emit({
        type: 'job',
        agent: id,
        model: report.model,
        outcome: report.outcome,
        ttftMs: report.ttftMs,
        durationMs: report.durationMs,
        tokensIn: report.promptTokens,
        tokensOut: report.completionTokens,
      });
    }
    if (released && report.prefixes) deps.views?.setPrefixes(id, report.prefixes);
    // Breakers: engine errors count against the agent; rejected (4xx) and cancelled never do.
    if (released && report.outcome === 'error') await recordFailure(deps, id, jti);
    if (released && report.outcome === 'success') await recordSuccess(deps, id, jti);
    log.info('job ended', {
      requestId: jti,
      agent: id,
      model: report.model,
      outcome: report.outcome,
      reason: report.reason,
      ttftMs: report.ttftMs,
      tokensIn: report.promptTokens,
      tokensOut: report.completionTokens,
      durationMs: report.durationMs,
      error: report.error,
      // false: a repeated report, or one after the ticket expired; it changed nothing.
      released,
    });
    return c.json({ released });
  });

  // The agent's supervisor (its process died, ADR 0007) or the agent itself (it drained and stops).
  // Out of routing now, its leases lost, not after HEARTBEAT_TIMEOUT; a new process registers again.
  app.post(AGENT_ROUTES.offline, agentAuth, async (c) => {
    const id = c.req.param('id');
    const why = await readBody(c, offlineRequestSchema);
    const changed = await store.agents.markOffline(id, clock.now());
    await deps.views?.refreshAgent(store.agents, id, clock.now());
    log.warn('agent offline by its own word', {
      agent: id,
      reason: why.reason,
      exitCode: why.exitCode ?? undefined,
      signal: why.signal ?? undefined,
      changed,
    });
    return c.json({ offline: true as const, changed });
  });

  return app;
}
