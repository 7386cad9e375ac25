// The crash supervisor (ADR 0007) with a fake spawner and a fake clock: restart policy, backoff,
// giving up, the control plane told before a restart, signals passed on, clean exits.
import { describe, expect, it } from 'vitest';
import type { SupervisorConfig } from '../../../agent/config.ts';
import { announceOffline } from '../../../agent/control-plane-client.ts';
import type { LogFields } from '../../../agent/log.ts';
import {
  type AgentProcess,
  type ChildMessage,
  type ExitStatus,
  exitStatus,
  RestartPolicy,
  Supervisor,
} from '../../../agent/supervisor.ts';

const CONFIG: SupervisorConfig = {
  enabled: true,
  restartDelayMs: 500,
  restartMaxDelayMs: 4_000,
  restartLimit: 5,
  restartWindowMs: 60_000,
};

describe('RestartPolicy', () => {
  it('doubles the delay with each crash in the window, capped, and gives up past the limit', () => {
    const policy = new RestartPolicy(CONFIG);
    const decisions = [0, 1, 2, 3, 4, 5].map((i) => policy.onCrash(i * 1000));
    expect(decisions).toEqual([
      { restart: true, delayMs: 500, crashesInWindow: 1 },
      { restart: true, delayMs: 1000, crashesInWindow: 2 },
      { restart: true, delayMs: 2000, crashesInWindow: 3 },
      { restart: true, delayMs: 4000, crashesInWindow: 4 },
      { restart: true, delayMs: 4000, crashesInWindow: 5 },
      { restart: false, crashesInWindow: 6 },
    ]);
  });

  it('forgets crashes older than the window: a rare crash always restarts quickly', () => {
    const policy = new RestartPolicy(CONFIG);
    for (let i = 0; i < 20; i++) {
      expect(policy.onCrash(i * 61_000)).toEqual({
        restart: true,
        delayMs: 500,
        crashesInWindow: 1,
      });
    }
    // Two close together count together; a third after the first left the window does not.
    expect(policy.onCrash(2_000_000).crashesInWindow).toBe(1);
    expect(policy.onCrash(2_030_000).crashesInWindow).toBe(2);
    expect(policy.onCrash(2_070_000)).toEqual({ restart: true, delayMs: 1000, crashesInWindow: 2 });
  });

  it('with a limit of 0 never restarts', () => {
    expect(new RestartPolicy({ ...CONFIG, restartLimit: 0 }).onCrash(0).restart).toBe(false);
  });
});

describe('exitStatus', () => {
  it('is the exit code, or 128 + the signal number', () => {
    expect(exitStatus({ code: 0, signal: null })).toBe(0);
    expect(exitStatus({ code: 3, signal: null })).toBe(3);
    expect(exitStatus({ code: null, signal: 'SIGKILL' })).toBe(137);
    expect(exitStatus({ code: null, signal: 'SIGTERM' })).toBe(143);
  });
});

/** A scripted agent process: the test sends its IPC messages and decides how it exits. */
class FakeProcess implements AgentProcess {
  readonly exited: Promise<ExitStatus>;
  readonly stops: NodeJS.Signals[] = [];
  private resolveExit: (e: ExitStatus) => void = () => undefined;

  constructor(
    readonly pid: number,
    private readonly onMessage: (m: ChildMessage) => void,
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  stop(signal: NodeJS.Signals) {
    this.stops.push(signal);
  }
  kill(signal: NodeJS.Signals) {
    this.stops.push(`kill ${signal}` as NodeJS.Signals);
  }
  registered(credential: string, agentId = 'agent-1') {
    this.onMessage({ type: 'titan:registered', agentId, credential });
  }
  ready() {
    this.onMessage({ type: 'titan:ready', url: 'http://127.0.0.1:8081' });
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null) {
    this.resolveExit({ code, signal });
  }
}

function harness(config: Partial<SupervisorConfig> = {}) {
  let t = 0;
  const events: string[] = [];
  const logs: { level: string; message: string; fields?: LogFields }[] = [];
  const procs: FakeProcess[] = [];
  const waiters: ((p: FakeProcess) => void)[] = [];
  const sleeps: number[] = [];
  const announced: { agentId: string; credential: string; exit: ExitStatus }[] = [];
  let announceResult: { ok: true; changed: boolean } | { ok: false; error: string } = {
    ok: true,
    changed: true,
  };
  const hooks: { onSleep?: () => void } = {};
  const log = (level: string) => (message: string, fields?: LogFields) => {
    logs.push({ level, message, ...(fields ? { fields } : {}) });
  };
  const supervisor = new Supervisor(
    { ...CONFIG, ...config },
    {
      spawn(onMessage) {
        const p = new FakeProcess(1000 + procs.length, onMessage);
        procs.push(p);
        events.push(`spawn ${p.pid}`);
        waiters.shift()?.(p);
        return p;
      },
      async announceOffline(agent, exit) {
        events.push(`offline ${agent.credential}`);
        announced.push({ ...agent, exit });
        // The control plane answers later than the next microtask: the restart must wait.
        await new Promise((r) => setTimeout(r, 5));
        return announceResult;
      },
      now: () => t,
      async sleep(ms, signal) {
        events.push(`sleep ${ms}`);
        sleeps.push(ms);
        hooks.onSleep?.();
        t += ms;
        signal.throwIfAborted();
      },
      log: { info: log('info'), warn: log('warn'), error: log('error') },
    },
  );
  /** The next agent process the supervisor starts (or started, not yet taken). */
  let taken = 0;
  const next = () =>
    new Promise<FakeProcess>((resolve) => {
      const spawned = procs[taken];
      if (spawned) resolve(spawned);
      else waiters.push(resolve);
    }).finally(() => {
      taken++;
    });
  const advance = (ms: number) => {
    t += ms;
  };
  return {
    supervisor,
    events,
    logs,
    procs,
    sleeps,
    announced,
    next,
    advance,
    hooks,
    setAnnounceResult(r: typeof announceResult) {
      announceResult = r;
    },
  };
}

describe('Supervisor', () => {
  it('tells the control plane with the agent credential, then restarts the crashed agent', async () => {
    const h = harness();
    const run = h.supervisor.run();
    const first = await h.next();
    first.registered('tca-one');
    first.ready();
    h.advance(30_000);
    first.exit(null, 'SIGABRT'); // llama.cpp abort()
    const second = await h.next();
    second.registered('tca-two'); // every registration rotates the credential
    second.ready();
    second.exit(null, 'SIGKILL');
    const third = await h.next();
    third.ready();
    third.exit(0); // a clean exit is not restarted
    expect(await run).toBe(0);
    expect(h.events).toEqual([
      'spawn 1000',
      'offline tca-one',
      'sleep 500',
      'spawn 1001',
      'offline tca-two',
      'sleep 1000',
      'spawn 1002',
    ]);
    expect(h.announced[0]).toEqual({
      agentId: 'agent-1',
      credential: 'tca-one',
      exit: { code: null, signal: 'SIGABRT' },
    });
    expect(h.logs.find((l) => l.message === 'supervisor: agent process died')).toMatchObject({
      level: 'error',
      fields: { pid: 1000, signal: 'SIGABRT', upMs: 30_000 },
    });
  });

  it('treats a non-zero exit after start-up as a crash too, and restarts without a credential yet', async () => {
    const h = harness();
    const run = h.supervisor.run();
    const first = await h.next();
    first.ready();
    first.exit(1); // an uncaught error, before any registration
    const second = await h.next();
    // A crash while loading the model (before ready) by a signal is a crash as well.
    second.exit(null, 'SIGSEGV');
    const third = await h.next();
    third.exit(0);
    expect(await run).toBe(0);
    expect(h.events).toEqual(['spawn 1000', 'sleep 500', 'spawn 1001', 'sleep 1000', 'spawn 1002']);
    expect(h.announced).toEqual([]);
    expect(h.logs.map((l) => l.message)).toContain(
      'supervisor: the agent never registered; nothing to tell the control plane',
    );
  });

  it('does not restart an agent that failed to start (exit code before ready)', async () => {
    const h = harness();
    const run = h.supervisor.run();
    (await h.next()).exit(1);
    expect(await run).toBe(1);
    expect(h.procs).toHaveLength(1);
    expect(h.logs.at(-1)).toMatchObject({
      level: 'error',
      message: 'supervisor: the agent failed to start; not restarting',
    });
  });

  it('gives up loudly after too many crashes in the window, with a non-zero status', async () => {
    const h = harness({ restartLimit: 3 });
    const run = h.supervisor.run();
    for (let i = 0; i < 4; i++) {
      const p = await h.next();
      p.registered(`tca-${i}`);
      p.ready();
      p.exit(null, 'SIGABRT');
    }
    expect(await run).toBe(134);
    expect(h.procs).toHaveLength(4);
    expect(h.sleeps).toEqual([500, 1000, 2000]);
    // Every death was announced, the last one too.
    expect(h.announced.map((a) => a.credential)).toEqual(['tca-0', 'tca-1', 'tca-2', 'tca-3']);
    expect(h.logs.at(-1)).toMatchObject({
      level: 'error',
      message: 'supervisor: agent keeps crashing; giving up',
      fields: { crashes: 4, windowMs: 60_000 },
    });
  });

  it('restarts even when the control plane cannot be told (it will time the agent out)', async () => {
    const h = harness();
    h.setAnnounceResult({ ok: false, error: 'fetch failed' });
    const run = h.supervisor.run();
    const first = await h.next();
    first.registered('tca-one');
    first.ready();
    first.exit(null, 'SIGKILL');
    const second = await h.next();
    second.exit(0);
    expect(await run).toBe(0);
    expect(h.logs.map((l) => l.message)).toContain(
      'supervisor: could not tell the control plane; it finds out by heartbeat timeout',
    );
  });

  it('passes SIGTERM on to the agent and exits with its status, restarting nothing', async () => {
    const h = harness();
    const run = h.supervisor.run();
    const p = await h.next();
    p.registered('tca-one');
    p.ready();
    h.supervisor.stop('SIGTERM');
    expect(p.stops).toEqual(['SIGTERM']);
    p.exit(0); // drained
    expect(await run).toBe(0);
    expect(h.procs).toHaveLength(1);
    expect(h.announced).toEqual([]);
  });

  it('signals within a second are one stop: Ctrl-C reaches it from the terminal and from npm start', async () => {
    const h = harness();
    const run = h.supervisor.run();
    const p = await h.next();
    p.registered('tca-one');
    p.ready();
    h.supervisor.stop('SIGINT');
    h.advance(3);
    h.supervisor.stop('SIGTERM');
    h.advance(900);
    h.supervisor.stop('SIGINT');
    expect(p.stops).toEqual(['SIGINT']);
    p.exit(0); // drained
    expect(await run).toBe(0);
    expect(h.logs.map((l) => l.message)).not.toContain(
      'supervisor: signal again, agent process exits without draining',
    );
  });

  it('a second signal a second later is passed on too; the agent exiting without draining is no crash', async () => {
    const h = harness();
    const run = h.supervisor.run();
    const p = await h.next();
    p.registered('tca-one');
    p.ready();
    h.supervisor.stop('SIGINT');
    h.advance(1_000);
    h.supervisor.stop('SIGINT');
    expect(p.stops).toEqual(['SIGINT', 'SIGINT']);
    p.exit(1); // exited without draining, as asked: no crash to announce
    expect(await run).toBe(1);
    expect(h.procs).toHaveLength(1);
    expect(h.announced).toEqual([]);
    expect(h.logs.at(-1)).toMatchObject({ message: 'supervisor: agent process stopped' });
  });

  it('an agent killed by a signal while draining is announced, and not restarted', async () => {
    const h = harness();
    const run = h.supervisor.run();
    const p = await h.next();
    p.registered('tca-one');
    p.ready();
    h.supervisor.stop('SIGTERM');
    p.exit(null, 'SIGSEGV');
    expect(await run).toBe(139);
    expect(h.procs).toHaveLength(1);
    expect(h.announced.map((a) => a.credential)).toEqual(['tca-one']);
  });

  it('a stop while waiting to restart starts nothing more', async () => {
    const h = harness();
    h.hooks.onSleep = () => h.supervisor.stop('SIGTERM');
    const run = h.supervisor.run();
    const p = await h.next();
    p.ready();
    p.exit(null, 'SIGKILL');
    expect(await run).toBe(0);
    expect(h.procs).toHaveLength(1);
    expect(h.sleeps).toEqual([500]);
  });

  it('a stop while the agent is still starting sends the signal itself (no IPC listener yet)', async () => {
    const h = harness();
    const run = h.supervisor.run();
    const p = await h.next();
    h.supervisor.stop('SIGTERM');
    expect(p.stops).toEqual(['kill SIGTERM']);
    p.exit(null, 'SIGTERM');
    expect(await run).toBe(143);
    expect(h.procs).toHaveLength(1);
  });

  it('an agent that dies after a stop was asked for is not restarted', async () => {
    const h = harness();
    const run = h.supervisor.run();
    const p = await h.next();
    p.ready();
    h.supervisor.stop('SIGTERM'); // before the crash: nothing left to restart afterwards
    p.exit(null, 'SIGKILL');
    expect(await run).toBe(137);
    expect(h.procs).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
  });
});

describe('announceOffline', () => {
  const calls: { url: string; auth: string | null; body: unknown }[] = [];
  const fetchReplying =
    (...replies: (Response | Error)[]) =>
    async (input: string | URL | Request, init?: RequestInit) => {
      calls.push({
        url: String(input),
        auth: new Headers(init?.headers).get('authorization'),
        body: JSON.parse(String(init?.body)),
      });
      const r = replies.length > 1 ? replies.shift() : replies[0];
      if (r instanceof Error) throw r;
      return r as Response;
    };
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status });
  const send = (f: ReturnType<typeof fetchReplying>) =>
    announceOffline({
      baseUrl: 'http://cp/',
      agentId: 'agent-1',
      credential: 'tca-x',
      body: { reason: 'agent process died', exitCode: null, signal: 'SIGKILL' },
      fetch: f as typeof fetch,
    });

  it('posts to /v1/agents/:id/offline with the credential, retrying once on a transport error', async () => {
    calls.length = 0;
    const ok = await send(
      fetchReplying(new TypeError('fetch failed'), json({ offline: true, changed: true })),
    );
    expect(ok).toEqual({ ok: true, changed: true });
    expect(calls).toHaveLength(2);
    expect(calls[0]).toEqual({
      url: 'http://cp/v1/agents/agent-1/offline',
      auth: 'Bearer tca-x',
      body: { reason: 'agent process died', exitCode: null, signal: 'SIGKILL' },
    });
  });

  it('does not retry a refusal', async () => {
    calls.length = 0;
    expect(await send(fetchReplying(json({}, 401)))).toEqual({
      ok: false,
      error: 'HTTP 401',
      status: 401,
    });
    expect(calls).toHaveLength(1);
  });
});
