// Starts a local cluster of real processes (control plane + agents) on loopback; used by
// `npm start`, the end-to-end tests and the benchmarks.
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const DEMO_MODEL = 'smollm2:135m';
export const DEMO_MODEL_PATH = join(ROOT, '.cache', 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');

export interface Proc {
  name: string;
  child: ChildProcess;
  /** Everything the process printed, for assertions and post-mortems. */
  output: string[];
  /** A supervised agent: the pid of the agent process it runs now (its supervisor logs each). */
  agentPid?: number;
  /** Leads a process group of its own (a shell and what it starts): stopped as a whole. */
  group?: boolean;
}

/** A Node script of this repository (bin/control-plane.mjs, bin/agent.mjs) as a child process. */
export function startProcess(
  name: string,
  script: string,
  args: string[],
  env: Record<string, string>,
  opts: {
    echo?: boolean;
    /** Run inside this network namespace (`ip netns exec`, needs root). */
    netns?: string;
  } = {},
): Proc {
  const argv = [process.execPath, join(ROOT, script), ...args];
  const [command, ...rest] = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv;
  return spawnProcess(name, command as string, rest, env, opts);
}

/** Echoed lines held back while something else writes to the console (npm start's demo). */
let heldEcho: string[] | undefined;

/** Holds echoed child output until releaseEcho(), so it does not cut through other output. */
export function holdEcho(): void {
  heldEcho ??= [];
}

export function releaseEcho(): void {
  const lines = heldEcho ?? [];
  heldEcho = undefined;
  for (const line of lines) console.log(line);
}

function echo(line: string): void {
  if (heldEcho) heldEcho.push(line);
  else console.log(line);
}

/** Any executable (e.g. a llama-server under test) as a child process, its output kept. */
export function spawnProcess(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string>,
  opts: { echo?: boolean; cwd?: string; group?: boolean } = {},
): Proc {
  const child = spawn(command, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.group === true,
  });
  const proc: Proc = { name, child, output: [], group: opts.group === true };
  const onLine = (line: string) => {
    if (!line) return;
    const pid = startedAgentPid(line);
    if (pid !== undefined) proc.agentPid = pid;
    proc.output.push(line);
    if (proc.output.length > 2000) proc.output.shift();
    if (opts.echo) echo(`[${name}] ${line}`);
  };
  // Whole lines only: a chunk may end mid-line (a pid cut in two must never be read as one).
  const lines = (stream: NodeJS.ReadableStream | null) => {
    let partial = '';
    stream?.on('data', (buf: Buffer) => {
      const parts = (partial + buf.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) onLine(line);
    });
    stream?.on('end', () => onLine(partial));
  };
  lines(child.stdout);
  lines(child.stderr);
  return proc;
}

/** One log line of either format, as fields (a plain line: its message only). */
export function logLine(line: string): Record<string, unknown> {
  if (line.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed && typeof parsed === 'object') return parsed as Record<string, unknown>;
    } catch {}
  }
  return { msg: line };
}

/** The pid in a supervisor's "agent process started" line (JSON or plain), if it is one. */
export function startedAgentPid(line: string): number | undefined {
  const plain = /^supervisor: agent process started pid=(\d+)$/.exec(line);
  if (plain) return Number(plain[1]);
  const fields = logLine(line);
  return fields.msg === 'supervisor: agent process started' && typeof fields.pid === 'number'
    ? fields.pid
    : undefined;
}

/**
 * Waits until `url/healthz` answers 200 (90 s at most, failing early when `proc` exits); when it
 * does not, runs `stop` (the caller's clean-up) before passing the error on.
 */
export async function untilHealthy(
  what: string,
  url: string,
  proc: Proc,
  stop: () => Promise<void>,
): Promise<void> {
  try {
    await waitFor(
      what,
      async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined),
      90_000,
      [proc],
    );
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  procs: Proc[] = [],
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const p of procs) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) {
        throw new Error(
          `${p.name} exited while waiting for ${what}:\n${p.output.slice(-30).join('\n')}`,
        );
      }
    }
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {}
    if (Date.now() > deadline) {
      const tail = procs.map((p) => `--- ${p.name}\n${p.output.slice(-20).join('\n')}`).join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface ClusterOptions {
  cpPort: number;
  agentPorts: number[];
  dataDir: string;
  joinToken: string;
  maxConcurrentJobs?: number;
  echo?: boolean;
  cpEnv?: Record<string, string>;
  agentEnv?: Record<string, string>;
  /** Extra environment for agent i only. */
  perAgentEnv?: Record<string, string>[];
  /**
   * Run each agent under its crash supervisor, as `npx agent start` does (default true). false
   * (AGENT_SUPERVISE=0): the agent is the process started, so killing or stopping it kills or
   * stops the whole agent, with nobody to tell the control plane (a lost host, a hung agent).
   */
  supervise?: boolean;
  /** Where the control plane listens (default 127.0.0.1; elsewhere it runs with INSECURE=1). */
  cpHost?: string;
  /** Agent i binds and advertises this address (default 127.0.0.1). */
  agentHosts?: string[];
  /** Agent i runs inside this network namespace (`ip netns exec`, root), if set. */
  agentNetns?: (string | undefined)[];
  /**
   * Leave the engine to the agent's own choice (`npm start`: llama-server where this host has
   * built one, else the embedded engine). Otherwise the agents run TEST_ENGINE.
   */
  agentChoosesEngine?: boolean;
}

/**
 * The engine of the agents that suites and benchmarks start (startCluster, and tests that start an
 * agent themselves): the embedded llama.cpp, so a suite runs the same engine on every machine,
 * whether or not this one has built llama-server (which the agent's own default would then pick,
 * ADR 0019). ENGINE in the environment overrides it, to run a suite on another engine; a test
 * about one engine sets ENGINE in its agentEnv.
 */
export const TEST_ENGINE = process.env.ENGINE || 'llama-cpp';

export interface Cluster {
  url: string;
  /** A client API key created at start-up when the control plane runs with AUTH_MODE=keys. */
  apiKey: string | undefined;
  controlPlane: Proc;
  agents: Proc[];
  agentUrls: string[];
  startAgent(index: number): Proc;
  stop(): Promise<void>;
}

export async function stopProcess(p: Proc, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) {
  if (p.group) return stopGroup(p, signal, graceMs);
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((ok) => p.child.once('exit', () => ok()));
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A process group (a shell and all it started, which may outlive it): signal, wait, then kill. */
async function stopGroup(p: Proc, signal: NodeJS.Signals, graceMs: number) {
  const pid = p.child.pid;
  if (pid === undefined) return;
  /** Signals the group; false once no process of it is left. */
  const send = (s: NodeJS.Signals | 0) => {
    try {
      process.kill(-pid, s);
      return true;
    } catch {
      return false;
    }
  };
  if (!send(signal)) return;
  const deadline = Date.now() + graceMs;
  while (send(0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  send('SIGKILL');
}

/**
 * CPU threads for each of `agents` llama.cpp agents sharing one host: its share of the cores, at
 * least one. Each agent defaults to every core; two of them on one host then fight over the same
 * cores (llama.cpp's threads wait for each other at every step), which made answers 5x slower
 * here (8-token streams, 2 agents on 2 cores: p50 2.1 s with 2 threads each, 0.4 s with one).
 */
export function threadsPerAgent(agents: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, agents)));
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const cpHost = o.cpHost ?? '127.0.0.1';
  const url = `http://${cpHost}:${o.cpPort}`;
  const controlPlane = startProcess(
    'control-plane',
    'bin/control-plane.mjs',
    [],
    {
      PORT: String(o.cpPort),
      HOST: cpHost,
      // A test address off loopback (e.g. a veth pair to a network namespace) in development mode.
      ...(cpHost === '127.0.0.1' ? {} : { INSECURE: '1' }),
      DATA_DIR: o.dataDir,
      JOIN_TOKEN: o.joinToken,
      HEARTBEAT_INTERVAL: '2s',
      // Local clusters (npm start, e2e) are development mode unless cpEnv says otherwise.
      AUTH_MODE: 'development',
      ...o.cpEnv,
    },
    { echo: o.echo },
  );
  const all: Proc[] = [controlPlane];
  await waitFor(
    'control plane /healthz',
    async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined),
    60_000,
    all,
  );

  // In keys mode (cpEnv AUTH_MODE=keys plus ADMIN_KEY) create one client key for the caller.
  let apiKey: string | undefined;
  if (o.cpEnv?.AUTH_MODE === 'keys' && o.cpEnv.ADMIN_KEY) {
    const res = await fetch(`${url}/admin/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.cpEnv.ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'cluster' }),
    });
    if (res.status !== 201) throw new Error(`cannot create an API key: HTTP ${res.status}`);
    apiKey = ((await res.json()) as { key: string }).key;
  }
  const statusHeaders: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};

  const hostOf = (i: number) => o.agentHosts?.[i] ?? '127.0.0.1';
  const agentUrls = o.agentPorts.map((p, i) => `http://${hostOf(i)}:${p}`);
  // The agents share this host's cores, unless THREADS is set (environment, agentEnv, perAgentEnv).
  const threads: Record<string, string> = process.env.THREADS
    ? {}
    : { THREADS: String(threadsPerAgent(o.agentPorts.length)) };
  /** ENGINE for agent i: TEST_ENGINE, unless the caller chose (ENGINE, UPSTREAM_URL, OLLAMA_HOST). */
  const engineOf = (i: number): Record<string, string> => {
    const own = { ...o.agentEnv, ...o.perAgentEnv?.[i] };
    const chosen = o.agentChoosesEngine || own.ENGINE || own.UPSTREAM_URL || own.OLLAMA_HOST;
    return chosen ? {} : { ENGINE: TEST_ENGINE };
  };
  const startAgent = (i: number) =>
    startProcess(
      `agent-${i + 1}`,
      'bin/agent.mjs',
      ['start'],
      {
        CONTROL_PLANE_URL: url,
        JOIN_TOKEN: o.joinToken,
        AGENT_ID: `agent-${i + 1}`,
        PORT: String(o.agentPorts[i]),
        HOST: hostOf(i),
        PUBLIC_HOST: hostOf(i),
        MODEL_PATH: DEMO_MODEL_PATH,
        SUPPORTED_MODELS: DEMO_MODEL,
        MAX_CONCURRENT_JOBS: String(o.maxConcurrentJobs ?? 4),
        AGENT_STATE_DIR: join(o.dataDir, 'agents'),
        ...threads,
        ...engineOf(i),
        ...(o.supervise === false ? { AGENT_SUPERVISE: '0' } : {}),
        ...o.agentEnv,
        ...o.perAgentEnv?.[i],
      },
      { echo: o.echo, ...(o.agentNetns?.[i] ? { netns: o.agentNetns[i] } : {}) },
    );
  const agents = o.agentPorts.map((_, i) => startAgent(i));
  all.push(...agents);
  const cluster: Cluster = {
    url,
    apiKey,
    controlPlane,
    agents,
    agentUrls,
    startAgent: (i) => {
      const p = startAgent(i);
      agents[i] = p;
      return p;
    },
    async stop() {
      await Promise.all(agents.map((a) => stopProcess(a)));
      await stopProcess(controlPlane);
    },
  };
  try {
    await waitFor(
      `${agents.length} agents registered`,
      async () => {
        const res = await fetch(`${url}/v1/status`, { headers: statusHeaders });
        const status = (await res.json()) as {
          agents: { state: string }[];
        };
        // Routable: an agent with little memory to spare starts out degraded, not healthy.
        const routable = status.agents.filter(
          (a) => a.state === 'healthy' || a.state === 'degraded',
        );
        return routable.length >= agents.length ? true : undefined;
      },
      180_000,
      all,
    );
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** An environment variable that a runner script sets (e.g. the path of a binary it built). */
export function requiredEnv(name: string, runner: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests with \`${runner}\``);
  return value;
}
