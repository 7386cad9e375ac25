// POST /v1/route/:jti/failure: a client reports that the agent its ticket named failed it.
import { Hono } from 'hono';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { z } from 'zod';
import { TICKET_TYPE } from '../../../protocol/agent-api.ts';
import { bearerToken } from '../../../protocol/bearer.ts';
import { FAILURE_REPORT_ROUTE, failureReportSchema } from '../../../protocol/client-api.ts';
import { readBody } from '../body.ts';
import { recordFailure } from '../breakers/outcomes.ts';
import type { Deps } from '../deps.ts';
import { ApiError } from '../errors.ts';

/** A stream may break long after its ticket expired: reports are taken this long after `exp`. */
export const FAILURE_REPORT_GRACE_MS = 15 * 60_000;

const jtiParam = z.string().min(1).max(100);

/** What a client report writes in its ticket's `error`, so reports can be told from agents'. */
const CLIENT_REPORT_PREFIX = 'client: ';
/**
 * Distinct clients (API keys) that must have reported an agent within the breaker window before
 * client reports count against its breaker: one client alone (or one key's holder, attacking)
 * never slows a healthy agent down. Agent job reports and missed heartbeats count on their own.
 */
export const CLIENT_REPORT_QUORUM = 2;

export function failureRoutes(deps: Deps) {
  const app = new Hono();
  const jwks = createLocalJWKSet(deps.signer.jwks());

  app.post(FAILURE_REPORT_ROUTE, async (c) => {
    const jti = jtiParam.parse(c.req.param('jti'));
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw new ApiError('unauthorized', 'Send the ticket as Authorization: Bearer');
    const now = deps.clock.now();
    // Only a ticket this control plane signed can report, and only against its own agent.
    const claims = await jwtVerify(token, jwks, {
      issuer: deps.config.issuer,
      algorithms: [deps.signer.alg],
      typ: TICKET_TYPE,
      currentDate: new Date(now),
      // A report may come a little after the ticket expired (the stream ran long, then broke).
      clockTolerance: FAILURE_REPORT_GRACE_MS / 1000,
    }).then(
      (r) => r.payload,
      () => {
        throw new ApiError('unauthorized', 'The ticket is not valid');
      },
    );
    if (claims.jti !== jti || typeof claims.aud !== 'string') {
      throw new ApiError('forbidden', 'The ticket does not match this job');
    }
    const report = await readBody(c, failureReportSchema);
    const agentId = claims.aud;
    const error =
      `${CLIENT_REPORT_PREFIX}${report.kind}${report.status ? ` ${report.status}` : ''}${
        report.message ? `: ${report.message}` : ''
      }`.slice(0, 2000);
    // The report is kept on the ticket, which stays open: closing it would free the key's quota
    // and the agent's slot while the agent still honours the ticket (it cannot be told). The
    // lease ends with the agent's job report, its going offline or re-registering, or, never
    // confirmed by the agent, at the end of its claim window (storage/sqlite/tickets.ts).
    await deps.store.tickets.noteError(agentId, jti, error);
    const since = now - deps.config.breaker.windowMs;
    const reporters = await deps.store.tickets.reporters(agentId, since, CLIENT_REPORT_PREFIX);
    const corroborated = reporters >= CLIENT_REPORT_QUORUM;
    const counted = corroborated && (await recordFailure(deps, agentId, jti));
    deps.log.warn('client failure report', {
      requestId: jti,
      agent: agentId,
      error,
      counted,
      corroborated,
    });
    return c.json({ counted });
  });

  return app;
}
