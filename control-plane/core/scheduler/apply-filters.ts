// Runs filters over the candidates: each agent is kept, or excluded by the first filter that fires.
import type {
  AgentView,
  Exclusion,
  FilterModule,
  PlacementRequest,
  SchedulerContext,
} from './types.ts';

export function applyFilters(
  agents: readonly AgentView[],
  filters: readonly FilterModule[],
  req: PlacementRequest,
  ctx: SchedulerContext,
): { kept: AgentView[]; excluded: Exclusion[] } {
  const kept: AgentView[] = [];
  const excluded: Exclusion[] = [];
  for (const agent of agents) {
    let hit: Exclusion | null = null;
    for (const f of filters) {
      const reason = f.check(agent, req, ctx);
      if (reason) {
        hit = { agentId: agent.id, filter: f.name, reason };
        break;
      }
    }
    if (hit) excluded.push(hit);
    else kept.push(agent);
  }
  return { kept, excluded };
}
