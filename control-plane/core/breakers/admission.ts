// The breaker's part of a routing decision: which agents their stored breakers admit now (the
// scheduler's breaker filter asks), and the probe place a request to a half-open agent must hold,
// taken before its slot lease and given back if no lease is taken (ADR 0004).
import type { AgentView } from '../scheduler/types.ts';
import type { BreakerStore } from '../storage/types.ts';
import { admits, type BreakerConfig, CLOSED, phaseOf } from './policy.ts';

type BreakerView = Pick<AgentView, 'id' | 'breaker'>;

/**
 * SchedulerContext.breakerAdmits for one decision: whether an agent's breaker, as read with its
 * view, admits a request at `now` (open: no; half-open: only with a free probe place).
 */
export function breakerAdmitsAt(
  now: number,
  cfg: BreakerConfig,
): (agent: Pick<BreakerView, 'breaker'>) => boolean {
  return (agent) => admits(agent.breaker ?? CLOSED, now, cfg);
}

/**
 * Runs `reserve` (taking the agent's slot lease) through its breaker. Closed: it simply runs.
 * Half-open: a probe place is claimed first, in one guarded UPDATE so that isolates racing for
 * the last place cannot both win, and given back when `reserve` takes nothing. Undefined: no
 * probe place, or no lease.
 */
export async function reserveThroughBreaker<T>(
  breakers: Pick<BreakerStore, 'claimProbe' | 'releaseProbe'>,
  agent: BreakerView,
  now: number,
  cfg: BreakerConfig,
  reserve: () => Promise<T | undefined>,
): Promise<T | undefined> {
  const probe = phaseOf(agent.breaker ?? CLOSED, now) === 'half-open';
  if (probe && !(await breakers.claimProbe(agent.id, now, cfg))) return undefined;
  const reserved = await reserve();
  if (reserved === undefined && probe) await breakers.releaseProbe(agent.id);
  return reserved;
}
