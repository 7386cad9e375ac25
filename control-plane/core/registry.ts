// The registry's rules over its store: which heartbeats are written, how a job report feeds the
// agent's throughput.
import type { AgentStats, EngineLoad, JobReport } from '../../protocol/agent-api.ts';
import {
  type CoalescingPolicy,
  heartbeatWriteReason,
  schedulingMemory,
  type WriteReason,
} from './heartbeats.ts';
import type { AgentView } from './scheduler/types.ts';
import type { OpenLease, Store } from './storage/types.ts';

/** Weight of the newest job in an agent's tokens/s average: steady but quick to follow a slowdown. */
export const THROUGHPUT_WEIGHT = 0.2;

export interface HeartbeatUpdate {
  stats: AgentStats;
  /** The agent's queue and its engine's own load, kept with the stats for the status page. */
  load?: { queuedJobs?: number | undefined; engine?: EngineLoad | undefined };
  reportedJobs: number;
  runningJobs: string[];
  draining: boolean;
  rttMs: number | undefined;
  /** Prefix-digest hashes the engine holds, most recent first (absent: not reported). */
  prefixes?: string[] | undefined;
}

/**
 * Records a heartbeat, writing only what changed (see heartbeats.ts). Returns null when the agent is
 * unknown (it must register again), else why the row was written (null: not written).
 */
export async function recordHeartbeat(
  store: Store,
  id: string,
  hb: HeartbeatUpdate,
  now: number,
  policy: CoalescingPolicy & { heartbeatIntervalMs: number },
): Promise<{
  written: WriteReason;
  leasesChanged: boolean;
  /** Since the agent's last recorded heartbeat (recorded ones are coalesced), ms. */
  sinceLastMs: number;
  /** Leases the heartbeat confirmed, and confirmed ones it no longer lists (lost). */
  leases: { confirmed: number; released: number };
  /**
   * When neither the state nor the leases changed: the agent's view fields as the database holds
   * them now (what was written, and the open leases counted), so a cached copy can be put right
   * without reading the agent again. Undefined: read it again.
   */
  view?: Partial<AgentView> | undefined;
} | null> {
  const stored = await store.agents.get(id);
  if (!stored) return null;
  // An offline agent that heartbeats again is back; draining is the agent's own word.
  const state = hb.draining ? 'draining' : stored.state === 'degraded' ? 'degraded' : 'healthy';
  const rttMs = hb.rttMs ?? null;
  const prefixes = hb.prefixes?.join(',');
  const written = heartbeatWriteReason(
    stored,
    { state, reportedJobs: hb.reportedJobs, rttMs, prefixes, ...schedulingMemory(hb.stats) },
    now,
    policy,
  );
  if (written) {
    await store.agents.writeHeartbeat(
      id,
      {
        stats: hb.stats,
        load: hb.load,
        reportedJobs: hb.reportedJobs,
        rttMs,
        state: state !== stored.state ? state : undefined,
        prefixes,
      },
      now,
    );
  }
  // The agent's list of running jobs is the truth about its leases. Most heartbeats list exactly
  // what the control plane holds: one indexed read, and nothing written (docs/adr/0003).
  const held = await store.tickets.openLeases(id);
  const leases = leasesDiffer(held, hb.runningJobs, now, policy.heartbeatIntervalMs)
    ? await store.tickets.reconcileLeases(id, hb.runningJobs, now, policy.heartbeatIntervalMs)
    : { confirmed: 0, released: 0 };
  const leasesChanged = leases.confirmed + leases.released > 0;
  const stateChanged = written !== null && state !== stored.state;
  const view: Partial<AgentView> | undefined =
    leasesChanged || stateChanged
      ? undefined
      : {
          reservedJobs: held.filter((t) => holdsSlot(t, now)).length,
          ...(written
            ? {
                lastHeartbeatAt: now,
                rttMs,
                ...schedulingMemory(hb.stats),
                ...(prefixes !== undefined
                  ? { prefixes: new Set(prefixes ? prefixes.split(',') : []) }
                  : {}),
              }
            : {}),
        };
  return {
    written,
    view,
    leasesChanged,
    sinceLastMs: Math.max(0, now - stored.lastHeartbeatAt),
    leases,
  };
}

/** The open ticket holds its slot at `now` (the store's rule: confirmed, or inside its claim window). */
export function holdsSlot(t: OpenLease, now: number): boolean {
  return t.admittedAt !== null || t.state === 'running' || t.claimUntil > now;
}

/**
 * Whether `reconcileLeases` would change anything: a listed job whose lease is not confirmed yet,
 * or a confirmed lease older than `graceMs` that the agent no longer lists (the same conditions as
 * the store's statements).
 */
export function leasesDiffer(
  held: readonly OpenLease[],
  runningJobs: readonly string[],
  now: number,
  graceMs: number,
): boolean {
  const listed = new Set(runningJobs);
  return held.some((t) =>
    listed.has(t.jti)
      ? t.admittedAt === null
      : (t.admittedAt !== null || t.state === 'running') &&
        (t.admittedAt ?? t.issuedAt) < now - graceMs,
  );
}

/**
 * Closes a ticket with the agent's job report, which ends its lease. Idempotent: a second report,
 * or a report after the ticket expired, releases nothing.
 */
export async function finishTicket(
  store: Store,
  agentId: string,
  jti: string,
  report: JobReport,
  now: number,
): Promise<boolean> {
  if (!(await store.tickets.finish(agentId, jti, report, now))) return false;
  if (report.outcome === 'success' && report.completionTokens > 0 && report.durationMs > 0) {
    const tps = (report.completionTokens * 1000) / report.durationMs;
    await store.agents.addThroughput(agentId, tps, THROUGHPUT_WEIGHT, report.prefixes?.join(','));
  }
  return true;
}
