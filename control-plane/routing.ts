// Picks an agent for a request, reserves its slot in the database and signs the ticket.

import type { Deps } from './deps.ts';
import { ApiError } from './errors.ts';
import {
  findCandidates,
  insertTicket,
  isKnownModel,
  releaseSlot,
  reserveSlot,
} from './registry.ts';

export interface RouteDecision {
  agent: { id: string; url: string };
  ticket: string;
  jti: string;
  expiresAt: number;
  fallbacks: { id: string; url: string; score: number }[];
  scheduler: string;
}

export async function routeRequest(
  deps: Deps,
  req: { model: string; maxTokens: number; client: string; ticketTtlMs: number },
): Promise<RouteDecision> {
  const { db, clock, config } = deps;
  const now = clock.now();
  const candidates = await findCandidates(db, req.model, now, config.heartbeatTimeoutMs);
  if (candidates.length === 0) {
    if (!(await isKnownModel(db, req.model))) {
      throw new ApiError('model_not_found', `The model '${req.model}' does not exist`, {
        param: 'model',
      });
    }
    throw new ApiError('no_agent_available', `No live agent serves '${req.model}' right now`, {
      retryAfterSeconds: 5,
    });
  }
  const ranked = deps.scheduler.rank(candidates, { model: req.model });
  for (const [i, choice] of ranked.entries()) {
    const agent = choice.agent;
    if (!(await reserveSlot(db, agent.id, now, config.heartbeatTimeoutMs))) continue;
    const jti = deps.newId?.() ?? crypto.randomUUID();
    const expiresAt = now + req.ticketTtlMs;
    try {
      await insertTicket(db, {
        jti,
        agentId: agent.id,
        model: req.model,
        client: req.client,
        issuedAt: now,
        expiresAt,
      });
    } catch (err) {
      await releaseSlot(db, agent.id);
      throw err;
    }
    const ticket = await deps.signer.sign({
      sub: req.client,
      aud: agent.id,
      jti,
      model: req.model,
      maxTokens: req.maxTokens,
      issuedAtMs: now,
      expiresAtMs: expiresAt,
    });
    deps.log.info('agent selected', {
      model: req.model,
      agent: agent.id,
      scheduler: deps.scheduler.name,
      candidates: candidates.length,
      rank: i,
    });
    return {
      agent: { id: agent.id, url: agent.url },
      ticket,
      jti,
      expiresAt,
      fallbacks: ranked
        .filter((r) => r.agent.id !== agent.id)
        .map((r) => ({ id: r.agent.id, url: r.agent.url, score: r.score })),
      scheduler: deps.scheduler.name,
    };
  }
  throw new ApiError(
    'no_agent_available',
    `All ${candidates.length} agent(s) serving '${req.model}' are busy`,
    { retryAfterSeconds: 1 },
  );
}
