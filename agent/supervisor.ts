// `agent start` by default (ADR 0007): the agent runs in a child process. When that process dies
// (a llama.cpp abort(), an OOM kill, an uncaught error) the supervisor tells the control plane at
// once, so routing stops before any heartbeat timeout, and restarts it with capped exponential
// backoff, like systemd's Restart=on-failure; too many crashes in a window and it gives up.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SupervisorConfig } from './config.ts';
import type { OfflineResult } from './control-plane-client.ts';
import type { Logger } from './log.ts';
import { type ExitStatus, exitStatus, RestartPolicy } from './restart-policy.ts';
import { type StopRequest, stopRequests } from './stop-requests.ts';

/** Set in the agent process's environment: it runs under a supervisor, over IPC. */
export const SUPERVISED_ENV = 'TITAN_AGENT_SUPERVISED';

/** Agent process → supervisor. */
export type ChildMessage =
  /** After each registration: the credential the agent got (and saved with credential-store). */
  | { type: 'titan:registered'; agentId: string; credential: string }
  /** Listening and registering: from now on a non-zero exit is a crash, not a failed start. */
  | { type: 'titan:ready'; url: string };

/** Supervisor → agent process: a SIGINT/SIGTERM the supervisor received. */
export type ParentMessage = { type: 'titan:shutdown'; signal: NodeJS.Signals };

export function isChildMessage(m: unknown): m is ChildMessage {
  const t = (m as { type?: unknown } | null)?.type;
  return t === 'titan:registered' || t === 'titan:ready';
}

export function isParentMessage(m: unknown): m is ParentMessage {
  return (m as { type?: unknown } | null)?.type === 'titan:shutdown';
}

export {
  type ExitStatus,
  exitStatus,
  type RestartDecision,
  RestartPolicy,
} from './restart-policy.ts';

/** One agent process, as the supervisor sees it. */
export interface AgentProcess {
  readonly pid: number | undefined;
  readonly exited: Promise<ExitStatus>;
  /** Passes on a SIGINT/SIGTERM the supervisor received (the agent drains as it always does). */
  stop(signal: NodeJS.Signals): void;
  /** Sends the signal itself: before the agent is up it may not listen on IPC yet. */
  kill(signal: NodeJS.Signals): void;
}

export interface SupervisorDeps {
  spawn(onMessage: (m: ChildMessage) => void): AgentProcess;
  /** POST /v1/agents/:id/offline with the agent's credential; never throws. */
  announceOffline(
    agent: { agentId: string; credential: string },
    exit: ExitStatus,
  ): Promise<OfflineResult>;
  now(): number;
  /** Rejects (or resolves early) when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  log: Logger;
}

export class Supervisor {
  private readonly policy: RestartPolicy;
  private readonly stopRequest: () => StopRequest;
  private readonly stopController = new AbortController();
  private child: AgentProcess | undefined;
  private childReady = false;
  private stopSignal: NodeJS.Signals | undefined;
  /** What the last registration of an agent process of ours got. */
  private registered: { agentId: string; credential: string } | undefined;

  constructor(
    private readonly config: SupervisorConfig,
    private readonly deps: SupervisorDeps,
  ) {
    this.policy = new RestartPolicy(config);
    this.stopRequest = stopRequests(() => deps.now());
  }

  /** SIGINT/SIGTERM: pass it on, restart nothing more; run() then ends with the child's status. */
  stop(signal: NodeJS.Signals): void {
    const request = this.stopRequest();
    // The same stop from another sender (the terminal and `npm start` both signal us).
    if (request === 'same') return;
    const again = request === 'again';
    this.stopSignal ??= signal;
    this.stopController.abort();
    if (this.child) {
      this.deps.log.info(
        again
          ? 'supervisor: signal again, agent process exits without draining'
          : this.childReady
            ? 'supervisor: stopping the agent process (it drains)'
            : 'supervisor: stopping the agent process (still starting)',
        { signal, pid: this.child.pid },
      );
      if (this.childReady) this.child.stop(signal);
      else this.child.kill(signal);
    }
  }

  /** Runs agent processes until one exits cleanly, a stop, a failed start or too many crashes. */
  async run(): Promise<number> {
    const { log } = this.deps;
    for (;;) {
      if (this.stopSignal) return 0;
      this.childReady = false;
      const startedAt = this.deps.now();
      const child = this.deps.spawn((m) => {
        if (m.type === 'titan:registered') {
          this.registered = { agentId: m.agentId, credential: m.credential };
          // From here a crash can be reported with this registration's credential.
          log.info('supervisor: agent registered', { agentId: m.agentId });
        } else this.childReady = true;
      });
      this.child = child;
      log.info('supervisor: agent process started', { pid: child.pid });
      const exit = await child.exited;
      const ready = this.childReady;
      this.child = undefined;
      const status = exitStatus(exit);
      // An exit code before the agent was up: configuration, port or model file; a restart
      // would fail the same way. (A signal while loading the model is a crash.)
      const startFailed = status !== 0 && !ready && exit.signal === null;
      if (startFailed && !this.stopSignal) {
        log.error('supervisor: the agent failed to start; not restarting', {
          exitCode: exit.code,
        });
        if (this.registered) await this.tellControlPlane(exit);
        return status;
      }
      if (this.stopSignal && exit.signal === null) {
        // It handled the stop itself (a second signal skips the drain: exit 1).
        log.info('supervisor: agent process stopped', { exitCode: exit.code });
        return status;
      }
      if (status !== 0) {
        log.error('supervisor: agent process died', {
          pid: child.pid,
          exitCode: exit.code,
          signal: exit.signal,
          upMs: Math.round(this.deps.now() - startedAt),
          stopping: this.stopSignal !== undefined,
        });
        await this.tellControlPlane(exit);
      }
      if (this.stopSignal) return status;
      if (status === 0) {
        log.info('supervisor: agent process exited cleanly; not restarting');
        return 0;
      }
      const decision = this.policy.onCrash(this.deps.now());
      if (!decision.restart) {
        log.error('supervisor: agent keeps crashing; giving up', {
          crashes: decision.crashesInWindow,
          windowMs: this.config.restartWindowMs,
        });
        return status;
      }
      log.warn('supervisor: restarting the agent process', {
        inMs: decision.delayMs,
        crashesInWindow: decision.crashesInWindow,
      });
      await this.deps.sleep(decision.delayMs, this.stopController.signal).catch(() => undefined);
    }
  }

  /**
   * Only for an agent process of ours that registered: a supervisor whose agent never got a
   * credential (say, a second `agent start` with the same id failing on a taken port) must not
   * take another, live process of that id offline with a credential it found on disk.
   */
  private async tellControlPlane(exit: ExitStatus): Promise<void> {
    const { log } = this.deps;
    if (!this.registered) {
      log.warn('supervisor: the agent never registered; nothing to tell the control plane');
      return;
    }
    const result = await this.deps.announceOffline(this.registered, exit);
    if (result.ok) log.info('supervisor: control plane told the agent is offline');
    else
      log.warn('supervisor: could not tell the control plane; it finds out by heartbeat timeout', {
        error: result.error,
      });
  }
}

const AGENT_BIN = fileURLToPath(new URL('../bin/agent.mjs', import.meta.url));

/** Forks `bin/agent.mjs <argv>` as the supervised agent process, with an IPC channel. */
export function forkAgentProcess(
  argv: string[],
  env: NodeJS.ProcessEnv,
  onMessage: (m: ChildMessage) => void,
): AgentProcess {
  const child: ChildProcess = fork(AGENT_BIN, argv, {
    env: { ...env, [SUPERVISED_ENV]: '1' },
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
  });
  child.on('message', (m) => {
    if (isChildMessage(m)) onMessage(m);
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // Could not be spawned at all: no 'exit' follows.
    child.once('error', () => {
      if (child.pid === undefined) resolve({ code: 1, signal: null });
    });
  });
  return {
    pid: child.pid,
    exited,
    stop(signal) {
      const message: ParentMessage = { type: 'titan:shutdown', signal };
      // Over IPC rather than kill(): when a terminal's Ctrl-C or systemd also signals the agent
      // process itself, it sees one request from each side, not a second signal that skips the
      // drain.
      if (child.connected) child.send(message, (err) => err && child.kill(signal));
      else child.kill(signal);
    },
    kill(signal) {
      child.kill(signal);
    },
  };
}
