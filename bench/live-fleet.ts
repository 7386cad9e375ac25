// Scheduling under a live fleet (issue 18): the Node control plane as its own process, N simulated
// agents that register and heartbeat over HTTP at the real cadence, and autocannon driving the 307
// path and /v1/route at increasing rates. Every ticket is confirmed (`…/admitted`) and released (the
// job report) after a hold time drawn from a log-normal distribution, as a real agent would, and the
// heartbeats list the jobs each agent runs. The simulator and the load generator share this machine's
// cores with the control plane: the figures are for the whole thing on one host.
//   npx tsx bench/live-fleet.ts [--agents 1000,10000] [--seconds 10] [--rates 500,1000,2000,3000]
//                               [--target node|worker] [--cpu-prof DIR]
//                               [--heartbeat-seconds 5]   (Node: cadence; the timeouts scale with it)
//   npm run bench -- live-fleet …   (stores the raw output under bench/results/)
// `--target worker` runs the same against `wrangler dev` (workerd with a local D1 in SQLite files),
// for a relative figure: local D1 is not Cloudflare's D1, and wrangler adds its own proxy.

import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { type Proc, ROOT, spawnProcess, stopProcess, untilHealthy } from '../scripts/cluster.ts';
import { startWranglerDev } from '../scripts/wrangler-dev.ts';
import { freePort } from '../test/e2e/support/ports.ts';
import { summarize, table } from './stats.ts';

const MODEL = 'smollm2:135m';
const JOIN_TOKEN = 'live-fleet-bench-join-token-0123456789';
const GiB = 2 ** 30;
const SLOTS_PER_AGENT = 8;
/** The heartbeat cadence each target tells its agents: Node's default, and wrangler.toml's. */
const HEARTBEAT_MS = { node: 5_000, worker: 10_000 } as const;
/** Hold time of a job: log-normal, median 2 s, about 8 % above 6 s, capped at 30 s. */
const HOLD_MEDIAN_MS = 2_000;
const HOLD_SIGMA = 0.8;
/** Between the 307 and the agent's admission: the client following the redirect. */
const FOLLOW_MS = 5;

interface SimAgent {
  id: string;
  url: string;
  credential: string;
  running: Set<string>;
}

interface Step {
  target: Target;
  agents: number;
  path: string;
  targetRate: number | 'max';
  seconds: number;
  routed: number;
  refused: Record<string, number>;
  /** Requests the load generator saw fail without an answer (connection errors, its 10 s timeout). */
  unanswered: number;
  routesPerSecond: number;
  decisionMs: { n: number; p50: number; p99: number };
  endToEndMs: { p50: number; p99: number };
  cpuMsPerDecision: number;
  controlPlaneCpuPercent: number;
  heartbeatsPerSecond: number;
  /** Control-plane CPU per heartbeat, measured over half an interval with heartbeats alone. */
  cpuMsPerHeartbeat: number | null;
  heartbeatErrors: number;
  jobCalls: { admitted: number; reported: number; failed: number };
}

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '1000,10000' },
    seconds: { type: 'string', default: '10' },
    rates: { type: 'string', default: '500,1000,2000,3000' },
    target: { type: 'string', default: 'node' },
    'cpu-prof': { type: 'string' },
    // Node only: a longer cadence for large fleets (timeout and write intervals scale with it).
    'heartbeat-seconds': { type: 'string' },
    json: { type: 'string' },
  },
});
type Target = keyof typeof HEARTBEAT_MS;
if (values.target !== 'node' && values.target !== 'worker')
  throw new Error(`--target is node or worker, not ${values.target}`);
const target: Target = values.target;
const heartbeatMs = values['heartbeat-seconds']
  ? Number(values['heartbeat-seconds']) * 1000
  : HEARTBEAT_MS[target];
if (!(heartbeatMs >= 1000)) throw new Error('--heartbeat-seconds is at least 1');
if (target === 'worker' && heartbeatMs !== HEARTBEAT_MS.worker)
  throw new Error("--heartbeat-seconds is for --target node (wrangler.toml sets the Worker's)");
/** The control plane's heartbeat settings for that cadence: the defaults, scaled (5 s, 30 s, 15 s, 10 s). */
const cadence = (ms: number) => ({
  HEARTBEAT_INTERVAL: `${ms}ms`,
  HEARTBEAT_TIMEOUT: `${6 * ms}ms`,
  LIVENESS_WRITE_INTERVAL: `${3 * ms}ms`,
  LOAD_WRITE_INTERVAL: `${2 * ms}ms`,
});
const sizes = values.agents.split(',').map(Number);
const seconds = Number(values.seconds);
const rates = values.rates.split(',').map(Number);

function holdMs(): number {
  // Box–Muller: a standard normal from two uniforms.
  const z = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  return Math.min(30_000, HOLD_MEDIAN_MS * Math.exp(HOLD_SIGMA * z));
}

/** [ppid, utime + stime in ms] of a process (/proc/<pid>/stat; clock ticks are 100 Hz on Linux). */
function procStat(pid: number): [number, number] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [Number(fields[1]), (Number(fields[11]) + Number(fields[12])) * 10];
  } catch {
    return undefined; // gone meanwhile
  }
}

/** CPU ms used so far by a process and all its descendants (wrangler dev runs workerd below it). */
function cpuMs(root: number): number {
  const stats = new Map<number, [number, number]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    const st = Number.isInteger(pid) ? procStat(pid) : undefined;
    if (st) stats.set(pid, st);
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 16; hops++) {
      if (p === root) return true;
      p = stats.get(p)?.[0] ?? 0;
    }
    return false;
  };
  let total = 0;
  for (const [pid, [, cpu]] of stats) if (inTree(pid)) total += cpu;
  return total;
}

/** The control plane under test as a process of its own, ready, with a temporary data folder. */
async function startTarget(n: number): Promise<{ proc: Proc; url: string; stop(): Promise<void> }> {
  const limits = { MAX_AGENTS: String(n + 16), MAX_AGENTS_PER_JOIN_TOKEN: String(n + 16) };
  if (target === 'worker')
    return startWranglerDev({ JOIN_TOKEN, AUTH_MODE: 'development', ...limits });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'titan-live-fleet-'));
  const env = {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    JOIN_TOKEN,
    AUTH_MODE: 'development',
    ...limits,
    ...cadence(heartbeatMs),
  };
  // --cpu-prof DIR: V8 writes the control plane's CPU profile there when it exits.
  const profile = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : [];
  const script = join(ROOT, 'bin', 'control-plane.mjs');
  const proc = spawnProcess('control-plane', process.execPath, [...profile, script], env);
  const stop = async () => {
    // Writing a CPU profile on exit takes a while: do not cut it short.
    const t0 = Date.now();
    await stopProcess(proc, 'SIGTERM', values['cpu-prof'] ? 120_000 : 10_000);
    console.log(`control plane stopped in ${Date.now() - t0} ms`);
    rmSync(dataDir, { recursive: true, force: true });
  };
  await untilHealthy('control plane', url, proc, stop);
  return { proc, url, stop };
}

function registration(i: number, port: number) {
  return {
    id: `sim-${i}`,
    // Nobody follows the redirects: the URL only has to be unique and well-formed.
    url: `http://127.${((i + 1) >> 16) & 255}.${((i + 1) >> 8) & 255}.${(i + 1) & 255}:${port}`,
    maxConcurrentJobs: SLOTS_PER_AGENT,
    models: [{ name: MODEL, loaded: i % 3 !== 0, memoryBytes: 4 * GiB }],
    stats: {
      cpuCores: 16,
      cpuLoadPercent: 20,
      memoryTotalBytes: 128 * GiB,
      memoryFreeBytes: (32 + (i % 64)) * GiB,
      gpus: [],
    },
    engine: 'llama-cpp',
    version: 'bench',
  };
}

async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function runFleet(n: number): Promise<Step[]> {
  const cp = await startTarget(n);
  const base = cp.url;
  const port = Number(new URL(base).port);
  const pid = cp.proc.child.pid as number;
  // The decision times the control plane logs (routing.ts), collected per step.
  let decisions: number[] = [];
  let partial = '';
  cp.proc.child.stdout?.on('data', (buf: Buffer) => {
    const lines = (partial + buf.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /"decisionMs":([0-9.]+)/.exec(line);
      if (m) decisions.push(Number(m[1]));
    }
  });
  const steps: Step[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    // Register the fleet over HTTP.
    const started = Date.now();
    const agents: SimAgent[] = [];
    const byUrl = new Map<string, SimAgent>();
    await pool(
      Array.from({ length: n }, (_, i) => i),
      16,
      async (i) => {
        const body = registration(i, port);
        const res = await fetch(`${base}/v1/agents/register`, {
          method: 'POST',
          headers: { authorization: `Bearer ${JOIN_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (res.status !== 200)
          throw new Error(`register sim-${i}: HTTP ${res.status} ${await res.text()}`);
        const { credential } = (await res.json()) as { credential: string };
        const agent = { id: body.id, url: body.url, credential, running: new Set<string>() };
        agents.push(agent);
        byUrl.set(body.url, agent);
      },
    );
    const registerSeconds = (Date.now() - started) / 1000;
    console.log(`${n} agents registered over HTTP in ${registerSeconds.toFixed(1)} s`);

    // Heartbeats at the real cadence, spread over the interval, listing the jobs each agent runs.
    let heartbeats = 0;
    let heartbeatErrors = 0;
    const beat = async (a: SimAgent, i: number) => {
      const body = registration(i, port);
      try {
        const res = await fetch(`${base}/v1/agents/${a.id}/heartbeat`, {
          method: 'POST',
          headers: { authorization: `Bearer ${a.credential}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            activeJobs: a.running.size,
            runningJobs: [...a.running],
            models: body.models,
            stats: body.stats,
          }),
        });
        await res.arrayBuffer();
        if (res.ok) heartbeats++;
        else heartbeatErrors++;
      } catch {
        heartbeatErrors++;
      }
    };
    agents.forEach((a, i) => {
      timers.push(
        setTimeout(() => {
          void beat(a, i);
          timers.push(setInterval(() => void beat(a, i), heartbeatMs));
        }, Math.random() * heartbeatMs),
      );
    });
    // One whole interval of heartbeats before measuring; the second half, with no other traffic,
    // gives the control plane's CPU per heartbeat.
    await new Promise((r) => setTimeout(r, heartbeatMs / 2));
    const quietCpu0 = cpuMs(pid);
    const quietHb0 = heartbeats;
    await new Promise((r) => setTimeout(r, heartbeatMs / 2));
    const quiet = {
      heartbeats: heartbeats - quietHb0,
      // None answered in the window (a collapsed target): no figure.
      cpuMsPerHeartbeat:
        heartbeats === quietHb0
          ? null
          : Math.round(((cpuMs(pid) - quietCpu0) / (heartbeats - quietHb0)) * 1000) / 1000,
    };
    console.log(JSON.stringify({ agents: n, quietHeartbeats: quiet }));

    // A routed ticket is admitted by its agent at once and reported when its job ends.
    const calls = { admitted: 0, reported: 0, failed: 0 };
    const agentCall = async (a: SimAgent, path: string, body?: unknown) => {
      try {
        const res = await fetch(`${base}/v1/agents/${a.id}/jobs/${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${a.credential}`, 'content-type': 'application/json' },
          body: JSON.stringify(body ?? {}),
        });
        await res.arrayBuffer();
        return res.ok;
      } catch {
        return false;
      }
    };
    const runJob = (a: SimAgent, jti: string) => {
      setTimeout(async () => {
        if (!(await agentCall(a, `${jti}/admitted`))) return void calls.failed++;
        calls.admitted++;
        a.running.add(jti);
        const hold = holdMs();
        setTimeout(async () => {
          a.running.delete(jti);
          const ok = await agentCall(a, jti, {
            outcome: 'success',
            model: MODEL,
            promptTokens: 100,
            completionTokens: Math.round(hold / 20),
            durationMs: Math.round(hold),
          });
          if (ok) calls.reported++;
          else calls.failed++;
        }, hold);
      }, FOLLOW_MS);
    };

    /** A response header, whatever case the server wrote its name in (autocannon keeps it). */
    const header = (headers: unknown, name: string): string | undefined => {
      const entries: [unknown, unknown][] = Array.isArray(headers)
        ? Array.from({ length: headers.length >> 1 }, (_, i) => [
            headers[2 * i],
            headers[2 * i + 1],
          ])
        : Object.entries((headers ?? {}) as Record<string, unknown>);
      const hit = entries.find(([k]) => String(k).toLowerCase() === name);
      return hit === undefined ? undefined : String(hit[1]);
    };

    const chat = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
    const plan: { path: string; rate: number | 'max' }[] = [
      ...rates.map((rate) => ({ path: '/v1/chat/completions', rate })),
      { path: '/v1/chat/completions', rate: 'max' as const },
      { path: '/v1/route', rate: 'max' as const },
    ];
    for (const { path, rate } of plan) {
      const refused: Record<string, number> = {};
      let routed = 0;
      let failure: unknown;
      const onResponse = (status: number, body: string, _ctx: unknown, headers: unknown) => {
        try {
          count(status, body, headers);
        } catch (error) {
          failure ??= error;
        }
      };
      const count = (status: number, body: string, headers: unknown) => {
        if (path === '/v1/route' && status === 200) {
          const r = JSON.parse(body) as { agent: { id: string; url: string }; requestId: string };
          const a = byUrl.get(r.agent.url);
          if (a) runJob(a, r.requestId);
          routed++;
          return;
        }
        const location = header(headers, 'location');
        if (status === 307 && location) {
          const a = byUrl.get(new URL(location).origin);
          const jti = header(headers, 'x-request-id');
          if (a && jti) runJob(a, jti);
          routed++;
          return;
        }
        refused[status] = (refused[status] ?? 0) + 1;
      };
      decisions = [];
      const hb0 = heartbeats;
      const hbErr0 = heartbeatErrors;
      const calls0 = { ...calls };
      const cpu0 = cpuMs(pid);
      const t0 = performance.now();
      const result = await autocannon({
        url: base,
        connections: rate === 'max' ? 64 : 32,
        duration: seconds,
        ...(rate === 'max' ? {} : { overallRate: rate }),
        requests: [
          {
            method: 'POST',
            path,
            headers: { 'content-type': 'application/json' },
            body: path === '/v1/route' ? JSON.stringify({ model: MODEL }) : chat,
            onResponse,
          },
        ],
      });
      const wall = (performance.now() - t0) / 1000;
      if (failure) throw failure;
      const cpu = cpuMs(pid) - cpu0;
      const d = summarize(decisions);
      const step: Step = {
        target,
        agents: n,
        path,
        targetRate: rate,
        seconds: Math.round(wall * 10) / 10,
        routed,
        refused,
        unanswered: result.errors + result.timeouts,
        routesPerSecond: Math.round(routed / wall),
        decisionMs: { n: d.n, p50: d.p50, p99: d.p99 },
        endToEndMs: { p50: result.latency.p50, p99: result.latency.p99 },
        cpuMsPerDecision: Math.round((cpu / Math.max(1, d.n)) * 1000) / 1000,
        controlPlaneCpuPercent: Math.round((cpu / 10 / wall) * 10) / 10,
        heartbeatsPerSecond: Math.round((heartbeats - hb0) / wall),
        cpuMsPerHeartbeat: quiet.cpuMsPerHeartbeat,
        heartbeatErrors: heartbeatErrors - hbErr0,
        jobCalls: {
          admitted: calls.admitted - calls0.admitted,
          reported: calls.reported - calls0.reported,
          failed: calls.failed - calls0.failed,
        },
      };
      steps.push(step);
      console.log(JSON.stringify(step));
    }
    return steps;
  } finally {
    for (const t of timers) clearTimeout(t);
    await cp.stop();
  }
}

const all: Step[] = [];
for (const n of sizes) all.push(...(await runFleet(n)));
const fmt = (x: number | null) => (x !== null && Number.isFinite(x) ? x.toFixed(2) : '–');
console.log(
  `\nLive fleet: ${target === 'node' ? 'Node control plane process' : 'wrangler dev (workerd, local D1)'}, agents heartbeating every ${heartbeatMs / 1000} s over HTTP, ` +
    `${SLOTS_PER_AGENT} slots each, jobs held ${HOLD_MEDIAN_MS / 1000} s median (log-normal), ` +
    `${seconds} s per step; load generator and simulator on the same cores\n`,
);
console.log(
  table(
    [
      'agents',
      'path',
      'offered/s',
      'routed/s',
      'refused',
      'unanswered',
      'decision p50 ms',
      'decision p99 ms',
      'HTTP p50 ms',
      'HTTP p99 ms',
      'CPU ms/decision',
      'CP CPU %',
      'heartbeats/s',
      'CPU ms/heartbeat',
    ],
    all.map((s) => [
      s.agents,
      s.path,
      s.targetRate,
      s.routesPerSecond,
      Object.entries(s.refused)
        .map(([k, v]) => `${v}×${k}`)
        .join(' ') || '0',
      s.unanswered,
      fmt(s.decisionMs.p50),
      fmt(s.decisionMs.p99),
      fmt(s.endToEndMs.p50),
      fmt(s.endToEndMs.p99),
      fmt(s.cpuMsPerDecision),
      s.controlPlaneCpuPercent,
      s.heartbeatsPerSecond,
      fmt(s.cpuMsPerHeartbeat),
    ]),
  ),
);
if (values.json) writeFileSync(values.json, JSON.stringify(all, null, 2));
process.exit(0);
