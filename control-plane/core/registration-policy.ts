// What a join token lets an agent register: a plain agent URL on an allowed host, room under the
// live-agent cap, and a slot count its own hardware stats can support.
import type { RegisterRequest } from '../../protocol/agent-api.ts';
import { liveCutoff } from './config.ts';
import type { Deps } from './deps.ts';
import { ApiError } from './errors.ts';

/** Slots one CPU core or one GPU can plausibly serve at once; claims above are clamped. */
export const SLOTS_PER_CPU_CORE = 8;
export const SLOTS_PER_GPU = 64;

/** `*` matches any run of characters; everything else literally, case-insensitively. */
function hostPattern(glob: string): RegExp {
  const escaped = glob
    .trim()
    .toLowerCase()
    .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** Link-local addresses (cloud metadata services live there): refused unless listed explicitly. */
function isLinkLocal(hostname: string): boolean {
  return /^169\.254\./.test(hostname) || /^\[fe[89ab][0-9a-f]:/i.test(hostname);
}

/** Throws a 400/403 ApiError unless `url` is a plain base URL on a host the operator allows. */
export function assertAgentUrl(url: string, allowedHosts: readonly string[]): void {
  const u = new URL(url);
  if (u.username || u.password) {
    throw new ApiError('invalid_request', 'The agent URL may not carry credentials (user:pass@)', {
      param: 'url',
    });
  }
  if (u.search || u.hash) {
    throw new ApiError('invalid_request', 'The agent URL may not carry a query or fragment', {
      param: 'url',
    });
  }
  const host = u.hostname.toLowerCase();
  const listed = allowedHosts.some((p) => hostPattern(p).test(host));
  if (allowedHosts.length > 0 ? !listed : isLinkLocal(host)) {
    throw new ApiError(
      'forbidden',
      `Agent host '${host}' is not allowed here${
        allowedHosts.length > 0 ? ` (AGENT_URL_HOSTS: ${allowedHosts.join(', ')})` : ' (link-local)'
      }`,
    );
  }
}

/** Slots the agent's own stats support; `flagged` when it claimed more. */
export function boundedSlots(reg: Pick<RegisterRequest, 'maxConcurrentJobs' | 'stats'>): {
  maxJobs: number;
  flagged: boolean;
} {
  const bound = reg.stats.cpuCores * SLOTS_PER_CPU_CORE + reg.stats.gpus.length * SLOTS_PER_GPU;
  return reg.maxConcurrentJobs > bound
    ? { maxJobs: bound, flagged: true }
    : { maxJobs: reg.maxConcurrentJobs, flagged: false };
}

/** A new agent id is refused once MAX_AGENTS live agents are registered (a known id may return). */
export async function assertRoomForAgent(
  deps: Pick<Deps, 'store' | 'config' | 'clock'>,
  id: string,
): Promise<void> {
  const live = await deps.store.agents.countLive(liveCutoff(deps.config, deps.clock.now()), id);
  if (live >= deps.config.maxAgents) {
    throw new ApiError(
      'forbidden',
      `This control plane already has ${live} live agents (MAX_AGENTS=${deps.config.maxAgents})`,
    );
  }
}
