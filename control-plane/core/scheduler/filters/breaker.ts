// Filter: the agent's circuit breaker admits a request now (the caller decides, see
// breakers/admission.ts; the scheduler only asks).
import type { Filter, FilterModule } from '../types.ts';

export const breakerAdmits: Filter = (agent, _req, ctx) =>
  ctx.breakerAdmits(agent) ? null : 'circuit breaker open';

export const breakerFilter: FilterModule = {
  name: 'breaker',
  label: 'circuit breaker open',
  check: breakerAdmits,
};
