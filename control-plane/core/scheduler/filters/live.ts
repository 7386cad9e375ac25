// Filter: the agent is healthy or degraded and has sent a heartbeat within HEARTBEAT_TIMEOUT.
import type { Filter, FilterModule } from '../types.ts';

export const isLive: Filter = (agent, _req, ctx) => {
  if (agent.state === 'offline') return 'offline';
  if (agent.state === 'draining') return 'draining';
  if (agent.state === 'drained') return 'drained by an operator';
  if (agent.lastHeartbeatAt <= ctx.liveAfter) {
    return `no heartbeat for ${Math.round((ctx.now - agent.lastHeartbeatAt) / 1000)} s`;
  }
  return null;
};

export const liveFilter: FilterModule = {
  name: 'live',
  label: 'offline or draining',
  check: isLive,
};
