// Control-plane client against a fake fetch: backoff, heartbeats with RTT, re-register, reports.
import { describe, expect, it } from 'vitest';
import {
  ControlPlaneClient,
  type ControlPlaneClientOptions,
  describeError,
} from '../../../agent/control-plane-client.ts';
import type { LogFields } from '../../../agent/log.ts';
import type { JobReport } from '../../../protocol/agent-api.ts';

interface Call {
  url: string;
  auth: string | null;
  /** The x-titan-agent-credential header (re-registration of a live id). */
  credential: string | null;
  body: Record<string, unknown>;
}

type Reply = Response | Error | ((call: Call) => Response | Error);

/**
 * A scripted control plane: replies per path kind, in order; the last one repeats. A reply given
 * as a function is made afresh each time: a repeated Response's body can be read only once.
 */
function fakeControlPlane(script: Record<'register' | 'heartbeat' | 'job', Reply[]>) {
  const calls: Call[] = [];
  const fetchImpl = async (
    input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> => {
    const url = String(input);
    const headers = new Headers(init?.headers);
    const call: Call = {
      url,
      auth: headers.get('authorization'),
      credential: headers.get('x-titan-agent-credential'),
      body: JSON.parse(String(init?.body)),
    };
    calls.push(call);
    const kind = url.endsWith('/register')
      ? 'register'
      : url.endsWith('/heartbeat')
        ? 'heartbeat'
        : 'job';
    const queue = script[kind];
    const next = queue.length > 1 ? queue.shift() : queue[0];
    const reply = typeof next === 'function' ? next(call) : next;
    if (!reply) throw new Error(`no reply scripted for ${kind}`);
    if (reply instanceof Error) throw reply;
    return reply;
  };
  return { calls, fetch: fetchImpl as typeof fetch };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const registered = (agentId = 'agent-1') =>
  json({
    agentId,
    credential: `tca-credential-of-${agentId}`,
    heartbeatIntervalMs: 1000,
    issuer: 'http://cp',
    jwksUrl: 'http://cp/jwks',
    registeredAt: 1,
  });

const stats = {
  cpuCores: 2,
  cpuLoadPercent: 10,
  memoryTotalBytes: 100,
  memoryFreeBytes: 50,
  gpus: [],
};

function makeClient(
  cp: ReturnType<typeof fakeControlPlane>,
  opts: { stopAfterSleeps?: number; extra?: Partial<ControlPlaneClientOptions> } = {},
) {
  const sleeps: number[] = [];
  const logs: { message: string; fields?: LogFields }[] = [];
  let clock = 0;
  const registrations: string[] = [];
  const client: ControlPlaneClient = new ControlPlaneClient({
    baseUrl: 'http://cp/',
    joinToken: 'join-secret',
    identity: {
      id: 'agent-1',
      url: 'http://127.0.0.1:8081',
      maxConcurrentJobs: 4,
      engine: 'fake',
      version: '0',
    },
    snapshot: async () => ({ models: [{ name: 'm', loaded: true }], stats }),
    load: () => ({ activeJobs: 1, runningJobs: ['jti-a'], draining: false }),
    onRegistered: (r) => registrations.push(r.agentId),
    fetch: cp.fetch,
    now: () => {
      clock += 7; // every request appears to take 7 ms
      return clock;
    },
    sleep: async (ms) => {
      sleeps.push(ms);
      if (sleeps.length >= (opts.stopAfterSleeps ?? 5)) void client.stop(0);
    },
    random: () => 0.5,
    log: {
      info: () => {},
      warn: (message, fields) => logs.push({ message, ...(fields ? { fields } : {}) }),
      error: (message, fields) => logs.push({ message, ...(fields ? { fields } : {}) }),
    },
    ...opts.extra,
  });
  return { client, sleeps, logs, registrations };
}

describe('ControlPlaneClient', () => {
  it('retries registration with exponential backoff and jitter while the CP is unreachable', async () => {
    const down = new TypeError('fetch failed');
    const cp = fakeControlPlane({
      register: [down, down, down, registered()],
      heartbeat: [json({ heartbeatIntervalMs: 1000 })],
      job: [],
    });
    const { client, sleeps, logs, registrations } = makeClient(cp, { stopAfterSleeps: 5 });
    await client.run();
    // ceilings 500, 1000, 2000 with random 0.5 → 75% of each; then the CP's 1000 ms interval.
    expect(sleeps.slice(0, 4)).toEqual([375, 750, 1500, 1000]);
    expect(registrations).toEqual(['agent-1']);
    expect(logs.filter((l) => l.message.startsWith('cannot register'))).toHaveLength(1);
    const reg = cp.calls[3];
    expect(reg?.url).toBe('http://cp/v1/agents/register');
    expect(reg?.auth).toBe('Bearer join-secret');
    expect(reg?.body).toMatchObject({
      id: 'agent-1',
      url: 'http://127.0.0.1:8081',
      maxConcurrentJobs: 4,
      engine: 'fake',
      stats,
    });
  });

  it('caps the backoff', () => {
    const cp = fakeControlPlane({ register: [], heartbeat: [], job: [] });
    const { client } = makeClient(cp);
    expect(client.backoffMs(50)).toBe(22_500);
  });

  it('heartbeats at the CP interval with load, running jobs and the previous RTT', async () => {
    const cp = fakeControlPlane({
      register: [registered()],
      heartbeat: [() => json({ heartbeatIntervalMs: 2000 })],
      job: [],
    });
    const { client, sleeps } = makeClient(cp, { stopAfterSleeps: 3 });
    await client.run();
    expect(sleeps).toEqual([1000, 2000, 2000]);
    const beats = cp.calls.filter((c) => c.url.endsWith('/heartbeat'));
    expect(beats).toHaveLength(2);
    expect(beats[0]?.url).toBe('http://cp/v1/agents/agent-1/heartbeat');
    // After registration the agent signs with its own credential, never the join token.
    expect(beats[0]?.auth).toBe('Bearer tca-credential-of-agent-1');
    expect(beats[0]?.body).toMatchObject({
      activeJobs: 1,
      runningJobs: ['jti-a'],
      draining: false,
      stats,
      rttMs: 7,
    });
    expect(beats[1]?.body.rttMs).toBe(7);
  });

  it('heartbeats carry queued jobs and the engine load when there are any', async () => {
    const cp = fakeControlPlane({
      register: [registered()],
      heartbeat: [json({ heartbeatIntervalMs: 1000 })],
      job: [],
    });
    const engineLoad = { running: 2, waiting: 5, kvCacheUsage: 0.5 };
    const { client } = makeClient(cp, {
      stopAfterSleeps: 2,
      extra: {
        snapshot: async () => ({ models: [], stats, engineLoad }),
        load: () => ({ activeJobs: 4, queuedJobs: 3, runningJobs: [], draining: false }),
      },
    });
    await client.run();
    const beat = cp.calls.find((c) => c.url.endsWith('/heartbeat'));
    expect(beat?.body).toMatchObject({ activeJobs: 4, queuedJobs: 3, engineLoad });
  });

  it('registers again when a heartbeat answers 404, keeping the new agent id', async () => {
    const cp = fakeControlPlane({
      register: [registered('agent-1'), registered('agent-1b')],
      heartbeat: [json({ error: 'unknown agent' }, 404), json({ heartbeatIntervalMs: 1000 })],
      job: [],
    });
    const { client, registrations, logs } = makeClient(cp, { stopAfterSleeps: 3 });
    await client.run();
    expect(registrations).toEqual(['agent-1', 'agent-1b']);
    expect(logs.some((l) => l.message.includes('registering again'))).toBe(true);
    expect(cp.calls.map((c) => c.url.split('/').pop())).toEqual([
      'register',
      'heartbeat',
      'register',
      'heartbeat',
    ]);
    expect(cp.calls.at(-1)?.url).toBe('http://cp/v1/agents/agent-1b/heartbeat');
  });

  it('registers again on a 401, proving its id with the credential it held', async () => {
    const cp = fakeControlPlane({
      register: [() => registered('agent-1')],
      heartbeat: [json({ error: 'bad credential' }, 401), json({ heartbeatIntervalMs: 1000 })],
      job: [],
    });
    const { client, registrations } = makeClient(cp, { stopAfterSleeps: 3 });
    await client.run();
    expect(registrations).toEqual(['agent-1', 'agent-1']);
    const regs = cp.calls.filter((c) => c.url.endsWith('/register'));
    expect(regs.map((c) => [c.auth, c.credential])).toEqual([
      ['Bearer join-secret', null],
      ['Bearer join-secret', 'tca-credential-of-agent-1'],
    ]);
  });

  it('keeps heartbeating after a failed heartbeat without re-registering', async () => {
    const cp = fakeControlPlane({
      register: [registered()],
      heartbeat: [json({}, 503), json({ heartbeatIntervalMs: 1000 })],
      job: [],
    });
    const { client, registrations } = makeClient(cp, { stopAfterSleeps: 3 });
    await client.run();
    expect(registrations).toHaveLength(1);
    expect(cp.calls.filter((c) => c.url.endsWith('/heartbeat'))).toHaveLength(2);
  });

  it('backs heartbeats off while they fail (jittered, at most 3 intervals), one log line per ten', async () => {
    const refused = new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    const ok = () => json({ heartbeatIntervalMs: 1000 });
    const cp = fakeControlPlane({
      register: [registered()],
      heartbeat: [...Array.from({ length: 12 }, () => refused), ok, refused, ok],
      job: [],
    });
    const { client, sleeps, logs } = makeClient(cp, { stopAfterSleeps: 16 });
    await client.run();
    // random() is 0.5: after 1 failure 1000..2000 → 1500; after 2 or more 1500..3000 → 2250.
    expect(sleeps).toEqual([
      1000,
      1500,
      ...Array.from({ length: 11 }, () => 2250),
      1000,
      1500,
      1000,
    ]);
    expect(cp.calls.filter((c) => c.url.endsWith('/register'))).toHaveLength(1);
    const warned = logs.filter((l) => l.message.startsWith('heartbeat failed'));
    expect(warned.map((l) => l.fields)).toEqual([
      { error: 'fetch failed: ECONNREFUSED', failures: 1, nextInMs: 1500 },
      { error: 'fetch failed: ECONNREFUSED', failures: 11, nextInMs: 2250 },
      { error: 'fetch failed: ECONNREFUSED', failures: 1, nextInMs: 1500 },
    ]);
  });

  it('never waits less than one interval nor more than three between heartbeats', () => {
    const cp = fakeControlPlane({ register: [], heartbeat: [], job: [] });
    for (const r of [0, 0.999]) {
      const { client } = makeClient(cp, { extra: { random: () => r } });
      const delays = [0, 1, 2, 3, 10, 60].map((n) => client.heartbeatDelayMs(n));
      expect(delays[0]).toBe(5000); // the interval before registration tells another
      for (const d of delays) expect(d).toBeGreaterThanOrEqual(5000);
      for (const d of delays) expect(d).toBeLessThanOrEqual(15_000);
    }
  });

  it('names the cause of a failed fetch in log lines', () => {
    const cause = { code: 'ENETUNREACH' };
    expect(describeError(new TypeError('fetch failed', { cause }))).toBe(
      'fetch failed: ENETUNREACH',
    );
    expect(describeError(new Error('HTTP 500'))).toBe('HTTP 500');
    expect(describeError('plain')).toBe('plain');
  });

  it('start() returns at once even when the control plane never answers', async () => {
    // Like a real fetch to a black hole: answers only by failing when its signal aborts.
    const hang = (_url: string, init: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        if (init.signal?.aborted) reject(init.signal.reason);
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const client = new ControlPlaneClient({
      baseUrl: 'http://cp',
      identity: { id: 'a', url: 'http://x', maxConcurrentJobs: 1, engine: 'fake', version: '0' },
      snapshot: async () => ({ models: [], stats }),
      load: () => ({ activeJobs: 0, runningJobs: [], draining: false }),
      fetch: hang as unknown as typeof fetch,
    });
    client.start();
    expect(client.registration).toBeUndefined();
    await client.stop(0);
  });
});

describe('job reports', () => {
  const report: JobReport = {
    outcome: 'success',
    model: 'm',
    promptTokens: 3,
    completionTokens: 5,
    durationMs: 40,
  };

  it('posts the report and retries 5xx/network failures', async () => {
    const cp = fakeControlPlane({
      register: [registered()],
      heartbeat: [],
      job: [new TypeError('fetch failed'), json({}, 502), json({ released: true })],
    });
    const { client, sleeps } = makeClient(cp, { stopAfterSleeps: 100 });
    client.reportJob('jti-1', report);
    await client.flushReports(1000);
    const jobs = cp.calls.filter((c) => c.url.includes('/jobs/'));
    expect(jobs).toHaveLength(3);
    expect(jobs[0]?.url).toBe('http://cp/v1/agents/agent-1/jobs/jti-1');
    // Not registered yet: no credential to send, and the join token never leaves registration.
    expect(jobs[0]?.auth).toBeNull();
    expect(jobs[0]?.body).toEqual(report);
    expect(sleeps).toEqual([250, 1000]);
  });

  it('drops a report after the last attempt, and at once on a 4xx, with one log line', async () => {
    const cp = fakeControlPlane({ register: [], heartbeat: [], job: [json({}, 500)] });
    const { client, logs } = makeClient(cp, { stopAfterSleeps: 100, extra: { reportAttempts: 3 } });
    client.reportJob('jti-2', report);
    await client.flushReports(1000);
    expect(cp.calls).toHaveLength(3);
    expect(logs).toEqual([
      {
        message: 'job report dropped',
        fields: { requestId: 'jti-2', outcome: 'success', error: 'HTTP 500' },
      },
    ]);

    const gone = fakeControlPlane({ register: [], heartbeat: [], job: [json({}, 404)] });
    const second = makeClient(gone, { stopAfterSleeps: 100 });
    second.client.reportJob('jti-3', report);
    await second.client.flushReports(1000);
    expect(gone.calls).toHaveLength(1);
    expect(second.logs).toHaveLength(1);
  });
});

describe('admission confirmations', () => {
  it('maps 200 to admitted, 409 to refused, and anything else (or no registration) to unconfirmed', async () => {
    const before = fakeControlPlane({ register: [], heartbeat: [], job: [] });
    expect(await makeClient(before).client.confirmAdmission('jti-0')).toBe('unconfirmed');
    expect(before.calls).toHaveLength(0);

    const cp = fakeControlPlane({
      register: [registered()],
      heartbeat: [],
      job: [
        json({ admitted: true }),
        json({ error: { code: 'lease_refused' } }, 409),
        json({}, 503),
        new TypeError('fetch failed'),
      ],
    });
    const { client, logs } = makeClient(cp, { stopAfterSleeps: 1 });
    await client.run();
    expect(await client.confirmAdmission('jti-1')).toBe('admitted');
    expect(cp.calls.at(-1)?.url).toBe('http://cp/v1/agents/agent-1/jobs/jti-1/admitted');
    expect(cp.calls.at(-1)?.auth).toMatch(/^Bearer /);
    expect(await client.confirmAdmission('jti-2')).toBe('refused');
    expect(await client.confirmAdmission('jti-3')).toBe('unconfirmed');
    expect(await client.confirmAdmission('jti-4')).toBe('unconfirmed');
    expect(logs.filter((l) => l.message.startsWith('admission not confirmed'))).toHaveLength(2);
  });
});
