// What a join token lets an agent register: a plain agent URL on an allowed host, room under the
// live-agent caps (in all and per join token), and a slot count its own hardware stats support.
import type { RegisterRequest } from '../../protocol/agent-api.ts';
import type { JoinAdmission } from './agent-credentials.ts';
import { type ControlPlaneConfig, liveCutoff } from './config.ts';
import type { Deps } from './deps.ts';
import { ApiError } from './errors.ts';
import type { RegistrationRoom } from './storage/types.ts';

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

/**
 * The caps a registration admitted by `admission` must fit under: MAX_AGENTS live agents, and the
 * join token's own cap (or MAX_AGENTS_PER_JOIN_TOKEN) of live agents it admitted. None per token
 * in development mode. The registering id itself is never counted, so a live agent may return.
 */
export function roomFor(
  config: Pick<
    ControlPlaneConfig,
    'heartbeatTimeoutMs' | 'livenessWriteIntervalMs' | 'maxAgents' | 'maxAgentsPerJoinToken'
  >,
  now: number,
  admission: JoinAdmission,
): RegistrationRoom {
  return {
    liveAfter: liveCutoff(config, now),
    maxAgents: config.maxAgents,
    joinToken:
      admission.tokenId === null
        ? undefined
        : {
            id: admission.tokenId,
            maxAgents: admission.maxAgents ?? config.maxAgentsPerJoinToken,
          },
  };
}

/** The 403 for a registration that did not fit under `room`, naming the cap it hit. */
export async function noRoomError(
  deps: Pick<Deps, 'store' | 'config'>,
  id: string,
  room: RegistrationRoom,
  admission: JoinAdmission,
): Promise<ApiError> {
  const live = await deps.store.agents.countLive(room.liveAfter, id);
  if (live >= room.maxAgents || room.joinToken === undefined) {
    return new ApiError(
      'forbidden',
      `This control plane already has ${live} live agents (MAX_AGENTS=${room.maxAgents})`,
    );
  }
  const token = room.joinToken;
  const admitted = await deps.store.agents.countLive(room.liveAfter, id, token.id);
  const cap =
    admission.maxAgents === null ? 'MAX_AGENTS_PER_JOIN_TOKEN' : "the join token's maxAgents";
  return new ApiError(
    'forbidden',
    `Join token '${token.id}' already admitted ${admitted} live agents (${cap}=${token.maxAgents}); use another join token or raise the cap`,
  );
}
