// The managed llama-server (ENGINE=llama-server): finds the binary, builds its command line, runs it
// as a child on a private loopback port, watches /health and restarts it with backoff on a crash.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { type ExitStatus, exitStatus, RestartPolicy } from '../restart-policy.ts';

/** The llama-cpp-python sdist whose vendored llama.cpp scripts/build-llama-cpp.sh builds. */
export const LLAMA_CPP_PYTHON_VERSION = '0.3.36';

/**
 * Where scripts/build-llama-cpp.sh puts llama-server for this host's backend (same cache folder
 * and key as the script: `$TITAN_CACHE_DIR` or `$XDG_CACHE_HOME/titancompute`, version, backend).
 */
export function cachedLlamaServer(env: NodeJS.ProcessEnv, backend: string): string {
  const cache =
    env.TITAN_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'titancompute');
  const version = env.LLAMA_CPP_PYTHON_VERSION ?? LLAMA_CPP_PYTHON_VERSION;
  const key = backend === 'cpu' ? version : `${version}-${backend}`;
  return join(cache, 'llama.cpp', key, 'build', 'bin', 'llama-server');
}

/** The operator's binary when given, else the build cache's (GPU builds first), else undefined. */
export function findLlamaServer(
  given: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (given) return given;
  return ['cuda', 'metal', 'vulkan', 'cpu']
    .map((backend) => cachedLlamaServer(env, backend))
    .find((p) => existsSync(p));
}

export interface LlamaServerArgs {
  modelPath: string;
  /** Name clients ask for (`--alias`). */
  modelName: string;
  port: number;
  slots: number;
  /** Context per slot; llama-server's `-c` is the total, split across its slots. */
  contextSizePerSequence: number;
  threads?: number | undefined;
  extraArgs?: string[] | undefined;
}

export function llamaServerArgs(a: LlamaServerArgs): string[] {
  return [
    ...['-m', a.modelPath, '--alias', a.modelName],
    ...['--host', '127.0.0.1', '--port', String(a.port)],
    ...['-np', String(a.slots), '-c', String(a.contextSizePerSequence * a.slots)],
    ...(a.threads ? ['--threads', String(a.threads), '--threads-batch', String(a.threads)] : []),
    // Load for the heartbeats; no browser UI on a private port.
    ...['--metrics', '--no-webui'],
    ...(a.extraArgs ?? []),
  ];
}

/** A free loopback port (the kernel's choice; llama-server binds it a moment later). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

export interface ChildHandle {
  readonly pid: number | undefined;
  readonly exited: Promise<ExitStatus>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Spawns the binary. On Linux through `setpriv --pdeathsig KILL` when present: the kernel kills
 * llama-server when the agent process dies, even by SIGKILL, so no orphan keeps the port and RAM.
 */
export function spawnChild(binary: string, args: string[], log: Logger): ChildHandle {
  const pdeath = process.platform === 'linux' && existsSync('/usr/bin/setpriv');
  const [command, argv] = pdeath
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', binary, ...args]]
    : [binary, args];
  // Its own process group: a terminal's Ctrl-C reaches the agent, which drains its requests (on
  // this child) and then stops it; in the agent's group the child died first, mid-drain, and the
  // agent logged a crash. The parent-death signal still covers an agent that dies.
  const child: ChildProcess = spawn(command, argv, {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  // Keep its last lines for the crash report; llama-server logs to stderr.
  let tail: string[] = [];
  child.stderr?.on('data', (c: Buffer) => {
    tail = tail.concat(String(c).split('\n').filter(Boolean)).slice(-20);
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      if (code !== 0 && !signal) log.warn('llama-server: last output', { tail: tail.join('\n') });
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      log.error('llama-server: could not start', { binary, error: String(err) });
      if (child.pid === undefined) resolve({ code: 127, signal: null });
    });
  });
  return { pid: child.pid, exited, kill: (signal) => child.kill(signal) };
}

export interface ManagedServerOptions {
  binary: string;
  args: Omit<LlamaServerArgs, 'port'>;
  log: Logger;
  spawn?: (binary: string, args: string[], log: Logger) => ChildHandle;
  fetch?: typeof fetch;
  /** First /health that answers 200, ms (a model load). Default 120000. */
  startTimeoutMs?: number;
  /** Health probe period once up; this many failures in a row kill it (hung). */
  healthIntervalMs?: number;
  healthFailures?: number;
  restart?: { delayMs: number; maxDelayMs: number; limit: number; windowMs: number };
  /** Too many crashes in the window: the engine is gone for good. */
  onGiveUp?: (exit: ExitStatus) => void;
  now?: () => number;
}

/** One llama-server child kept running: started, health-checked, restarted after a crash. */
export class ManagedLlamaServer {
  private child: ChildHandle | undefined;
  private port = 0;
  private closed = false;
  private ready = false;
  private readonly policy: RestartPolicy;
  private readonly fetchImpl: typeof fetch;
  private healthTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  restarts = 0;

  constructor(private readonly o: ManagedServerOptions) {
    const r = o.restart ?? { delayMs: 500, maxDelayMs: 30_000, limit: 5, windowMs: 300_000 };
    this.policy = new RestartPolicy({
      restartDelayMs: r.delayMs,
      restartMaxDelayMs: r.maxDelayMs,
      restartLimit: r.limit,
      restartWindowMs: r.windowMs,
    });
    this.fetchImpl = o.fetch ?? fetch;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether the child answered /health since it last (re)started. */
  get healthy(): boolean {
    return this.ready;
  }

  /** Starts the child and resolves once /health answers 200; rejects if it exits first. */
  async start(): Promise<void> {
    this.port = await freeLoopbackPort();
    const args = llamaServerArgs({ ...this.o.args, port: this.port });
    const child = (this.o.spawn ?? spawnChild)(this.o.binary, args, this.o.log);
    this.child = child;
    this.ready = false;
    this.o.log.info('llama-server: started', {
      pid: child.pid,
      port: this.port,
      binary: this.o.binary,
    });
    let exitedEarly = false;
    void child.exited.then((exit) => {
      exitedEarly = !this.ready;
      if (this.child === child) void this.onExit(child, exit);
    });
    const deadline = (this.o.now ?? Date.now)() + (this.o.startTimeoutMs ?? 120_000);
    while (!this.ready) {
      if (exitedEarly || this.closed || this.child !== child) {
        throw new Error(`llama-server exited before it was healthy (${this.o.binary})`);
      }
      if ((this.o.now ?? Date.now)() > deadline) {
        child.kill('SIGKILL');
        throw new Error('llama-server did not become healthy in time');
      }
      if (await this.probe(1000)) this.ready = true;
      else await new Promise((r) => setTimeout(r, 100));
    }
    this.watchHealth(child);
  }

  private async probe(timeoutMs: number): Promise<boolean> {
    try {
      const res = await this.fetchImpl(`${this.url}/health`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  /** A hung server (no /health for N probes) is killed; the exit handler restarts it. */
  private watchHealth(child: ChildHandle): void {
    const every = this.o.healthIntervalMs ?? 5000;
    this.failures = 0;
    this.healthTimer = setInterval(async () => {
      if (this.child !== child || !this.ready) return;
      if (await this.probe(Math.min(every, 5000))) this.failures = 0;
      else if (++this.failures >= (this.o.healthFailures ?? 3)) {
        this.o.log.error('llama-server: not answering /health; killing it', { pid: child.pid });
        child.kill('SIGKILL');
      }
    }, every);
    this.healthTimer.unref();
  }

  private async onExit(child: ChildHandle, exit: ExitStatus): Promise<void> {
    clearInterval(this.healthTimer);
    const wasReady = this.ready;
    this.ready = false;
    if (this.closed) return;
    if (!wasReady) return; // start() reports a failed start to its caller
    this.o.log.error('llama-server: crashed', {
      pid: child.pid,
      exitCode: exit.code,
      signal: exit.signal,
      status: exitStatus(exit),
    });
    const decision = this.policy.onCrash((this.o.now ?? Date.now)());
    if (!decision.restart) {
      this.o.log.error('llama-server: keeps crashing; giving up', {
        crashes: decision.crashesInWindow,
      });
      this.o.onGiveUp?.(exit);
      return;
    }
    this.o.log.warn('llama-server: restarting', {
      inMs: decision.delayMs,
      crashesInWindow: decision.crashesInWindow,
    });
    await new Promise((r) => setTimeout(r, decision.delayMs));
    for (;;) {
      if (this.closed) return;
      try {
        await this.start();
        this.restarts++;
        this.o.log.info('llama-server: serving again', { pid: this.child?.pid });
        return;
      } catch (err) {
        const again = this.policy.onCrash((this.o.now ?? Date.now)());
        if (!again.restart) {
          this.o.log.error('llama-server: cannot restart; giving up', { error: String(err) });
          this.o.onGiveUp?.({ code: 1, signal: null });
          return;
        }
        await new Promise((r) => setTimeout(r, again.delayMs));
      }
    }
  }

  /** Stops the child (SIGTERM, SIGKILL after graceMs) and restarts nothing more. */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    clearInterval(this.healthTimer);
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await child.exited;
    clearTimeout(timer);
  }
}
