// Feeds ticket outcomes (agent job reports, client failure reports) into breakers and health.
import { eq } from 'drizzle-orm';
import { tickets } from '../../../schema/tables.ts';
import { liveCutoff } from '../config.ts';
import type { Deps } from '../deps.ts';
import { getAgent } from '../registry.ts';
import { type BreakerFields, healthFromWindow, onFailure, onSuccess, phaseOf } from './policy.ts';
import {
  compareAndSet,
  fieldsOf,
  markTicketFailed,
  mayEject,
  setHealth,
  windowCounts,
} from './store.ts';

/** Compare-and-set attempts before giving up on a contended breaker row. */
const MAX_CAS_ATTEMPTS = 20;

export type BreakerDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'log'> &
  Pick<Partial<Deps>, 'views'>;

async function updateHealth(deps: BreakerDeps, agentId: string, state: string, now: number) {
  if (state !== 'healthy' && state !== 'degraded') return;
  const window = await windowCounts(deps.db, agentId, now - deps.config.breaker.windowMs);
  const next = healthFromWindow(state, window, deps.config.breaker);
  if (next && (await setHealth(deps.db, agentId, state, next))) {
    deps.log.warn(`agent ${next}`, { agent: agentId, ...window });
  }
}

function logTransition(deps: BreakerDeps, agentId: string, from: BreakerFields, to: BreakerFields) {
  const now = deps.clock.now();
  const before = phaseOf(from, now);
  const after = phaseOf(to, now);
  if (before === after && from.openedAt === to.openedAt) return;
  deps.log.warn(`circuit breaker ${after}`, {
    agent: agentId,
    from: before,
    trips: to.trips,
    failures: to.failures,
    openUntil: to.openUntil === null ? null : new Date(to.openUntil).toISOString(),
  });
}

/**
 * Counts a failure of ticket `jti` against `agentId` (once per ticket). Returns whether it was
 * counted (false: unknown ticket, another agent's, or already counted).
 */
export async function recordFailure(
  deps: BreakerDeps,
  agentId: string,
  jti: string,
): Promise<boolean> {
  const {
    db,
    clock,
    config: { breaker: cfg },
  } = deps;
  const now = clock.now();
  const ticket = await markTicketFailed(db, agentId, jti, now);
  if (!ticket) return false;
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const row = await getAgent(db, agentId);
    if (!row) return true;
    const fields = fieldsOf(row);
    const closed = phaseOf(fields, now) === 'closed';
    const window = closed ? await windowCounts(db, agentId, now - cfg.windowMs) : undefined;
    const outcome = { issuedAt: ticket.issuedAt, now, window, mayEject: true };
    let next = onFailure(fields, outcome, cfg);
    if (next && closed && next.state === 'open') {
      // Tripping would eject one more agent: only if the fleet can spare it.
      const allowed = await mayEject(db, liveCutoff(deps.config, now), cfg);
      if (!allowed) {
        next = onFailure(fields, { ...outcome, mayEject: false }, cfg);
        deps.log.warn('circuit breaker kept closed: ejection limit reached', {
          agent: agentId,
          maxEjectionShare: cfg.maxEjectionShare,
        });
      }
    }
    if (next === null || (await compareAndSet(db, agentId, fields, next))) {
      if (next) {
        logTransition(deps, agentId, fields, next);
        // Cached agent views carry breaker fields: a transition must be seen at once.
        deps.views?.invalidate();
      }
      await updateHealth(deps, agentId, row.state, now);
      return true;
    }
  }
  deps.log.error('circuit breaker update gave up under contention', { agent: agentId, jti });
  return true;
}

/** A success of ticket `jti`: closes a half-open breaker, resets the consecutive count. */
export async function recordSuccess(deps: BreakerDeps, agentId: string, jti: string) {
  const { db, clock } = deps;
  const now = clock.now();
  const rows = await db
    .select({ issuedAt: tickets.issuedAt })
    .from(tickets)
    .where(eq(tickets.jti, jti))
    .limit(1);
  const issuedAt = rows[0]?.issuedAt;
  if (issuedAt === undefined) return;
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const row = await getAgent(db, agentId);
    if (!row) return;
    const fields = fieldsOf(row);
    const next = onSuccess(fields, { issuedAt, now });
    if (next === null || (await compareAndSet(db, agentId, fields, next))) {
      if (next) {
        logTransition(deps, agentId, fields, next);
        // Cached agent views carry breaker fields: a transition must be seen at once.
        deps.views?.invalidate();
      }
      if (row.state === 'degraded') await updateHealth(deps, agentId, row.state, now);
      return;
    }
  }
  deps.log.error('circuit breaker update gave up under contention', { agent: agentId, jti });
}
