// Control-plane client: register with backoff (join token), then heartbeats and job reports signed
// with the per-agent credential; re-registers when the control plane answers 401 or 404.

import {
  AGENT_CREDENTIAL_HEADER,
  AGENT_ROUTES,
  type AgentModel,
  type AgentStats,
  agentApiPath,
  type EngineLoad,
  type HeartbeatRequest,
  heartbeatResponseSchema,
  type JobReport,
  type OfflineRequest,
  offlineResponseSchema,
  type RegisterRequest,
  type RegisterResponse,
  registerResponseSchema,
} from '../protocol/agent-api.ts';
import type { CredentialStore } from './credential-store.ts';
import type { Admission } from './http/job.ts';
import { type Logger, silentLogger } from './log.ts';
import { abortableDelay } from './time.ts';

export interface AgentIdentity {
  id: string;
  url: string;
  maxConcurrentJobs: number;
  engine: string;
  version: string;
  location?: { latitude: number; longitude: number };
}

export interface ControlPlaneClientOptions {
  baseUrl: string;
  joinToken?: string;
  identity: AgentIdentity;
  /** Models and machine stats, collected fresh for each register and heartbeat. */
  snapshot(): Promise<{ models: AgentModel[]; stats: AgentStats; engineLoad?: EngineLoad }>;
  /** Jobs in flight (and waiting for a slot) right now. */
  load(): {
    activeJobs: number;
    queuedJobs?: number;
    runningJobs: string[];
    draining: boolean;
    /** Prefix-digest hashes the engine holds, most recent first (docs/adr/0013). */
    prefixes?: string[];
  };
  /** Where the credential survives a restart (absent: memory only). */
  credentialStore?: CredentialStore;
  /** Called after every successful registration (tickets are verified with its issuer/JWKS). */
  onRegistered?(registration: RegisterResponse): void;
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  log?: Logger;
  backoff?: { initialMs?: number; maxMs?: number };
  requestTimeoutMs?: number;
  /** How long an admission waits for the control plane's confirmation (default 1 s). */
  admissionTimeoutMs?: number;
  /** Attempts per job report before it is dropped (default 4). */
  reportAttempts?: number;
  reportRetryDelayMs?: number;
}

type HeartbeatResult = 'ok' | 'unknown-agent' | 'failed';

/** An error for a log line: fetch's bare "fetch failed" with its cause (ECONNREFUSED, …). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  const why = cause?.code ?? cause?.message;
  return typeof why === 'string' && why && !err.message.includes(why)
    ? `${err.message}: ${why}`
    : err.message;
}

class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

export class ControlPlaneClient {
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly sleepImpl: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly stopController = new AbortController();
  private readonly pendingReports = new Set<Promise<void>>();
  private current: RegisterResponse | undefined;
  /** Survives a forgotten registration, to reclaim this agent's id while it is still live. */
  private lastCredential: string | undefined;
  private intervalMs = 5000;
  private lastRttMs: number | undefined;
  private lastHeartbeatError = '';
  private loop: Promise<void> | undefined;

  constructor(private readonly options: ControlPlaneClientOptions) {
    this.fetchImpl = options.fetch ?? fetch;
    this.lastCredential = options.credentialStore?.load();
    this.now = options.now ?? (() => performance.now());
    this.sleepImpl = options.sleep ?? abortableDelay;
    this.random = options.random ?? Math.random;
    this.log = options.log ?? silentLogger;
  }

  get registration(): RegisterResponse | undefined {
    return this.current;
  }

  get agentId(): string {
    return this.current?.agentId ?? this.options.identity.id;
  }

  /** Starts the register/heartbeat loop in the background; it never throws. */
  start(): void {
    this.loop ??= this.run();
  }

  /** The loop: runs until stop(). Exposed for tests. */
  async run(): Promise<void> {
    let failures = 0;
    let missed = 0;
    let delay = this.intervalMs;
    while (!this.stopping) {
      if (!this.current) {
        if (await this.register(failures)) {
          failures = 0;
          missed = 0;
          delay = this.intervalMs;
        } else {
          await this.sleep(this.backoffMs(failures++));
          continue;
        }
      }
      await this.sleep(delay);
      if (this.stopping) break;
      const result = await this.heartbeat();
      if (this.stopping) break;
      if (result === 'ok') {
        if (missed > 0) this.log.info('heartbeats resumed', { failedBefore: missed });
        missed = 0;
        delay = this.intervalMs;
      } else if (result === 'failed') {
        delay = this.heartbeatDelayMs(++missed);
        // One line for the first failure and every tenth after it: no log spam while the CP is down.
        if (missed % 10 === 1) {
          this.log.warn('heartbeat failed; retrying with backoff', {
            error: this.lastHeartbeatError,
            failures: missed,
            nextInMs: delay,
          });
        }
      } else {
        this.log.warn('control plane forgot this agent or its credential; registering again', {
          id: this.agentId,
        });
        this.current = undefined;
      }
    }
  }

  /**
   * Wait before the next heartbeat after `missed` failed ones in a row: the interval, then
   * doubling with jitter up to 3 intervals, never less than one. A control plane that restarts is
   * not hit by every agent at once, and each agent is back within 3 intervals of its return (well
   * inside HEARTBEAT_TIMEOUT, 6 intervals by default).
   */
  heartbeatDelayMs(missed: number): number {
    if (missed === 0) return this.intervalMs;
    const ceiling = this.intervalMs * Math.min(3, 2 ** missed);
    return Math.round(Math.max(this.intervalMs, ceiling / 2 + (this.random() * ceiling) / 2));
  }

  /** Stops the loop and waits up to `timeoutMs` for queued job reports. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopController.abort();
    await this.loop;
    await this.flushReports(timeoutMs);
  }

  /** Sends one heartbeat now (e.g. to announce draining); false if not registered or it failed. */
  async heartbeatNow(): Promise<boolean> {
    return this.current !== undefined && (await this.heartbeat()) === 'ok';
  }

  /**
   * Confirms a ticket's slot lease as the job is admitted. Only a 409 (the control plane refuses
   * the ticket) stops the job; no answer within admissionTimeoutMs, or none at all (partition,
   * not registered yet), lets it run on the agent's own capacity check.
   */
  async confirmAdmission(jti: string): Promise<Admission> {
    if (!this.current) return 'unconfirmed';
    const path = agentApiPath(AGENT_ROUTES.jobAdmitted, { id: this.agentId, jti });
    try {
      // Not tied to the loop's stop: a request being admitted during shutdown still asks.
      await this.post(path, {}, undefined, undefined, this.options.admissionTimeoutMs ?? 1000);
      return 'admitted';
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 409) return 'refused';
      this.log.warn("admission not confirmed; running on the agent's own word", {
        requestId: jti,
        error: describeError(err),
      });
      return 'unconfirmed';
    }
  }

  /**
   * Queues a job report: sent in the background with retries, then dropped with a log line. The
   * promise settles when it was delivered or dropped; it never rejects.
   */
  reportJob(jti: string, report: JobReport): Promise<void> {
    const sending = this.sendReport(jti, report).finally(() => this.pendingReports.delete(sending));
    this.pendingReports.add(sending);
    return sending;
  }

  async flushReports(timeoutMs: number): Promise<void> {
    if (this.pendingReports.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all(this.pendingReports), timeout]);
    clearTimeout(timer);
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  private async sleep(ms: number): Promise<void> {
    await this.sleepImpl(ms, this.stopController.signal).catch(() => undefined);
  }

  /** Exponential backoff with jitter: half fixed, half random, capped. */
  backoffMs(failures: number): number {
    const initial = this.options.backoff?.initialMs ?? 500;
    const max = this.options.backoff?.maxMs ?? 30_000;
    const ceiling = Math.min(max, initial * 2 ** Math.min(failures, 30));
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  private async register(failures: number): Promise<boolean> {
    try {
      const { models, stats } = await this.options.snapshot();
      const body: RegisterRequest = { ...this.options.identity, models, stats };
      const started = this.now();
      const headers: Record<string, string> = {};
      if (this.options.joinToken) headers.authorization = `Bearer ${this.options.joinToken}`;
      // Proves that this is the agent holding the id, should its registration still be live.
      if (this.lastCredential) headers[AGENT_CREDENTIAL_HEADER] = this.lastCredential;
      const json = await this.post(
        agentApiPath(AGENT_ROUTES.register),
        body,
        this.stopController.signal,
        headers,
      );
      this.lastRttMs = Math.max(0, this.now() - started);
      const registration = registerResponseSchema.parse(json);
      this.current = registration;
      this.lastCredential = registration.credential;
      try {
        this.options.credentialStore?.save(registration.credential);
      } catch (err) {
        this.log.warn('could not store the agent credential', { error: String(err) });
      }
      this.intervalMs = registration.heartbeatIntervalMs;
      this.options.onRegistered?.(registration);
      this.log.info('registered with control plane', {
        id: registration.agentId,
        heartbeatMs: registration.heartbeatIntervalMs,
      });
      return true;
    } catch (err) {
      if (this.stopping) return false;
      // One line for the first failure and every tenth after it: no log spam while the CP is down.
      if (failures % 10 === 0) {
        const status = err instanceof HttpStatusError ? err.status : undefined;
        this.log.warn('cannot register with control plane; retrying', {
          url: this.options.baseUrl,
          ...(status === 401 ? { hint: 'join token rejected' } : {}),
          ...(status === 409 ? { hint: 'agent id held by another live agent' } : {}),
          error: describeError(err),
          attempt: failures + 1,
        });
      }
      return false;
    }
  }

  private async heartbeat(): Promise<HeartbeatResult> {
    try {
      const { models, stats, engineLoad } = await this.options.snapshot();
      const load = this.options.load();
      const body: HeartbeatRequest = {
        activeJobs: load.activeJobs,
        ...(load.queuedJobs !== undefined ? { queuedJobs: load.queuedJobs } : {}),
        ...(engineLoad ? { engineLoad } : {}),
        runningJobs: load.runningJobs,
        models,
        stats,
        draining: load.draining,
        ...(load.prefixes?.length ? { prefixes: load.prefixes } : {}),
        ...(this.lastRttMs !== undefined ? { rttMs: Math.round(this.lastRttMs * 100) / 100 } : {}),
      };
      const started = this.now();
      const json = await this.post(
        agentApiPath(AGENT_ROUTES.heartbeat, { id: this.agentId }),
        body,
        this.stopController.signal,
      );
      this.lastRttMs = Math.max(0, this.now() - started);
      this.intervalMs = heartbeatResponseSchema.parse(json).heartbeatIntervalMs;
      return 'ok';
    } catch (err) {
      if (err instanceof HttpStatusError && (err.status === 404 || err.status === 401)) {
        return 'unknown-agent';
      }
      this.lastHeartbeatError = describeError(err);
      return 'failed';
    }
  }

  private async sendReport(jti: string, report: JobReport): Promise<void> {
    const attempts = this.options.reportAttempts ?? 4;
    const baseDelay = this.options.reportRetryDelayMs ?? 250;
    const never = new AbortController().signal;
    let lastError = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await this.sleepImpl(baseDelay * 4 ** (attempt - 1), never);
      try {
        const path = agentApiPath(AGENT_ROUTES.jobReport, { id: this.agentId, jti });
        await this.post(path, report, undefined);
        return;
      } catch (err) {
        lastError = describeError(err);
        const status = err instanceof HttpStatusError ? err.status : undefined;
        // A 4xx will not change on retry (except timeouts and rate limits).
        if (status !== undefined && status < 500 && ![401, 408, 429].includes(status)) break;
      }
    }
    this.log.warn('job report dropped', {
      requestId: jti,
      outcome: report.outcome,
      error: lastError,
    });
  }

  /** `signal` undefined: only the timeout ends the request (a job's admission and report). */
  private async post(
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    extraHeaders?: Record<string, string>,
    timeoutMs = this.options.requestTimeoutMs ?? 5000,
  ): Promise<unknown> {
    const url = `${this.options.baseUrl.replace(/\/+$/, '')}${path}`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    // Everything after registration is signed with this agent's own credential.
    const credential = this.current?.credential;
    if (extraHeaders) Object.assign(headers, extraHeaders);
    else if (credential) headers.authorization = `Bearer ${credential}`;
    signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(timeoutMs);
    const res = await this.fetchImpl(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new HttpStatusError(res.status);
    }
    return res.json();
  }
}

export type OfflineResult =
  /** The control plane took the agent out of routing (or it already was). */
  | { ok: true; changed: boolean }
  /** Refused (401: not this agent's current credential; 404: unknown agent) or unreachable. */
  | { ok: false; error: string; status?: number };

/**
 * `POST /v1/agents/:id/offline` with the agent's credential: the supervisor's word that the agent
 * process died. Never throws; retries once on a transport error or a 5xx.
 */
export async function announceOffline(o: {
  baseUrl: string;
  agentId: string;
  credential: string;
  body: OfflineRequest;
  fetch?: typeof fetch;
  timeoutMs?: number;
  attempts?: number;
}): Promise<OfflineResult> {
  const url = `${o.baseUrl.replace(/\/+$/, '')}${agentApiPath(AGENT_ROUTES.offline, { id: o.agentId })}`;
  const attempts = o.attempts ?? 2;
  let last: OfflineResult = { ok: false, error: 'not sent' };
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const res = await (o.fetch ?? fetch)(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${o.credential}` },
        body: JSON.stringify(o.body),
        signal: AbortSignal.timeout(o.timeoutMs ?? 2000),
      });
      if (res.ok)
        return { ok: true, changed: offlineResponseSchema.parse(await res.json()).changed };
      await res.body?.cancel();
      last = { ok: false, error: `HTTP ${res.status}`, status: res.status };
      if (res.status < 500) return last;
    } catch (err) {
      last = { ok: false, error: describeError(err) };
    }
  }
  return last;
}
