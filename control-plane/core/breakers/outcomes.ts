// Feeds ticket outcomes (agent job reports, client failure reports) into breakers and health.
import { liveCutoff } from '../config.ts';
import type { Deps } from '../deps.ts';
import { noEvents } from '../events.ts';
import {
  type BreakerConfig,
  type BreakerFields,
  fieldsOf,
  healthFromWindow,
  onFailure,
  onSuccess,
  phaseOf,
} from './policy.ts';

/** Compare-and-set attempts before giving up on a contended breaker row. */
const MAX_CAS_ATTEMPTS = 20;

export type BreakerDeps = Pick<Deps, 'store' | 'clock' | 'config' | 'log'> &
  Pick<Partial<Deps>, 'views' | 'events'>;

/**
 * Whether one more live agent may be ejected without ejecting more than maxEjectionShare of the
 * live fleet. Agents that are offline (silent) are not counted: they are out anyway.
 */
async function mayEject(deps: BreakerDeps, now: number, cfg: BreakerConfig): Promise<boolean> {
  const { live, open } = await deps.store.breakers.fleetCounts(liveCutoff(deps.config, now));
  return open + 1 <= Math.floor(live * cfg.maxEjectionShare);
}

/** Moves the agent between healthy and degraded by its recent failures; true when it moved. */
async function updateHealth(
  deps: BreakerDeps,
  agentId: string,
  state: string,
  now: number,
): Promise<boolean> {
  if (state !== 'healthy' && state !== 'degraded') return false;
  const breakers = deps.store.breakers;
  const window = await breakers.windowCounts(agentId, now - deps.config.breaker.windowMs);
  const next = healthFromWindow(state, window, deps.config.breaker);
  if (!next || !(await breakers.setHealth(agentId, state, next))) return false;
  deps.log.warn(`agent ${next}`, { agent: agentId, ...window });
  return true;
}

function logTransition(deps: BreakerDeps, agentId: string, from: BreakerFields, to: BreakerFields) {
  const now = deps.clock.now();
  const before = phaseOf(from, now);
  const after = phaseOf(to, now);
  if (before === after && from.openedAt === to.openedAt) return;
  (deps.events ?? noEvents).emit({ type: 'breaker', agent: agentId, from: before, to: after });
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
    store,
    clock,
    config: { breaker: cfg },
  } = deps;
  const now = clock.now();
  const ticket = await store.breakers.markFailed(agentId, jti, now);
  if (!ticket) return false;
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const row = await store.agents.get(agentId);
    if (!row) return true;
    const fields = fieldsOf(row);
    const closed = phaseOf(fields, now) === 'closed';
    const window = closed
      ? await store.breakers.windowCounts(agentId, now - cfg.windowMs)
      : undefined;
    const outcome = { issuedAt: ticket.issuedAt, now, window, mayEject: true };
    let next = onFailure(fields, outcome, cfg);
    if (next && closed && next.state === 'open') {
      // Tripping would eject one more agent: only if the fleet can spare it.
      const allowed = await mayEject(deps, now, cfg);
      if (!allowed) {
        next = onFailure(fields, { ...outcome, mayEject: false }, cfg);
        deps.log.warn('circuit breaker kept closed: ejection limit reached', {
          agent: agentId,
          maxEjectionShare: cfg.maxEjectionShare,
        });
      }
    }
    if (next === null || (await store.breakers.compareAndSet(agentId, fields, next))) {
      if (next) {
        logTransition(deps, agentId, fields, next);
      }
      const moved = await updateHealth(deps, agentId, row.state, now);
      // Cached agent views carry breaker fields and state: a transition must be seen at once.
      if (next || moved) await deps.views?.refreshAgent(store.agents, agentId, now);
      return true;
    }
  }
  deps.log.error('circuit breaker update gave up under contention', {
    agent: agentId,
    requestId: jti,
  });
  return true;
}

/** A success of ticket `jti`: closes a half-open breaker, resets the consecutive count. */
export async function recordSuccess(deps: BreakerDeps, agentId: string, jti: string) {
  const { store, clock } = deps;
  const now = clock.now();
  const issuedAt = (await store.tickets.get(jti))?.issuedAt;
  if (issuedAt === undefined) return;
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const row = await store.agents.get(agentId);
    if (!row) return;
    const fields = fieldsOf(row);
    const next = onSuccess(fields, { issuedAt, now });
    if (next === null || (await store.breakers.compareAndSet(agentId, fields, next))) {
      if (next) {
        logTransition(deps, agentId, fields, next);
      }
      const moved = row.state === 'degraded' && (await updateHealth(deps, agentId, row.state, now));
      // Cached agent views carry breaker fields and state: a transition must be seen at once.
      if (next || moved) await deps.views?.refreshAgent(store.agents, agentId, now);
      return;
    }
  }
  deps.log.error('circuit breaker update gave up under contention', {
    agent: agentId,
    requestId: jti,
  });
}
