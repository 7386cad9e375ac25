// `agent doctor`: checks this host against the options `agent start` would run with, and starts
// nothing. Each check says ok, warn or fail and why; any fail makes the exit status 1.
import { existsSync } from 'node:fs';
import { access, constants, mkdir, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type AgentConfig, agentUrl, engineSelection, unreachableAdvertisement } from './config.ts';
import { engineBesideAgent, engineHome, installedEngine } from './engines/embedded-install.ts';
import { chooseEngine } from './engines/select.ts';
import { usesModelManager } from './models/setup.ts';
import { type ExecFileFn, execFileText, NVIDIA_SMI_ARGS, parseNvidiaSmiCsv } from './stats.ts';
import { MAX_CLOCK_TOLERANCE_SEC } from './tickets.ts';
import { fetchTrusting } from './tls.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorDeps {
  fetch?: typeof fetch;
  /** Runs nvidia-smi (tests pass a recorded answer). */
  exec?: ExecFileFn;
  now?: () => number;
  timeoutMs?: number;
}

/** Free disk below this where models live is a warning. */
export const LOW_DISK_BYTES = 2 * 1024 ** 3;

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
const reason = (err: unknown): string => {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
};

export async function doctor(config: AgentConfig, deps: DoctorDeps = {}): Promise<Check[]> {
  const f = deps.fetch ?? (config.controlPlaneCa ? fetchTrusting(config.controlPlaneCa) : fetch);
  const get = (url: string) => f(url, { signal: AbortSignal.timeout(deps.timeoutMs ?? 5000) });
  const checks: Check[] = [];
  const add = (name: string, status: CheckStatus, detail: string) =>
    checks.push({ name, status, detail });

  await controlPlane(config, get, deps.now ?? Date.now, add);
  await publicUrl(config, get, add);
  await gpus(deps.exec ?? execFileText, add);
  await engine(config, f, get, add);
  await dataFolder(config, add);
  return checks;
}

type Add = (name: string, status: CheckStatus, detail: string) => void;
type Get = (url: string) => Promise<Response>;

/** Where node-llama-cpp comes from: beside the agent, the data folder, or an install at start. */
function embedded(config: AgentConfig, add: Add) {
  if (engineBesideAgent()) return add('embedded engine', 'ok', 'node-llama-cpp beside the agent');
  const found = config.dataDir ? installedEngine(config.dataDir) : undefined;
  if (found) return add('embedded engine', 'ok', `node-llama-cpp (${found.build}) in ${found.dir}`);
  const where = config.dataDir ? engineHome(config.dataDir) : 'the data folder';
  if (!config.engineInstall) {
    return add(
      'embedded engine',
      'fail',
      `node-llama-cpp is not installed and --no-engine-install is set: agent engine install puts it in ${where}`,
    );
  }
  add(
    'embedded engine',
    'warn',
    `node-llama-cpp is not installed: agent start installs it into ${where} (npm, about 75 MB for the CPU build, 620 MB for CUDA); agent engine install does it now`,
  );
}

/** Reachable, and the clock against its Date header (tickets carry exp and nbf). */
async function controlPlane(config: AgentConfig, get: Get, now: () => number, add: Add) {
  const cp = config.controlPlaneUrl;
  add(
    'join token',
    config.joinToken ? 'ok' : 'warn',
    config.joinToken
      ? 'set'
      : 'none (--join-token, JOIN_TOKEN): only a control plane in development mode admits this agent',
  );
  if (!cp) return add('control plane', 'fail', 'no --control-plane-url (CONTROL_PLANE_URL)');
  const sent = now();
  let res: Response;
  try {
    res = await get(`${cp}/healthz`);
  } catch (err) {
    return add('control plane', 'fail', `${cp}/healthz: ${reason(err)}`);
  }
  const back = now();
  add('control plane', res.ok ? 'ok' : 'fail', `${cp}/healthz: ${res.status} in ${back - sent} ms`);
  const date = res.headers.get('date');
  if (!date) return add('clock', 'warn', 'the control plane sent no Date header to compare with');
  const skew = Math.round(((sent + back) / 2 - Date.parse(date)) / 1000);
  const off = Math.abs(skew);
  const status = off > MAX_CLOCK_TOLERANCE_SEC ? 'fail' : off > 5 ? 'warn' : 'ok';
  add(
    'clock',
    status,
    `${skew >= 0 ? '+' : ''}${skew} s against the control plane (tickets allow ±${MAX_CLOCK_TOLERANCE_SEC} s)`,
  );
}

/** The URL clients are sent to: not loopback for a remote control plane, and answering. */
async function publicUrl(config: AgentConfig, get: Get, add: Add) {
  if (config.port === 0 && !config.publicUrl) {
    return add('public URL', 'warn', 'port 0: the URL is known only once the agent listens');
  }
  const url = agentUrl(config, config.port);
  const unreachable = config.controlPlaneUrl
    ? unreachableAdvertisement(url, config.controlPlaneUrl)
    : undefined;
  if (unreachable) add('public URL', 'fail', unreachable);
  try {
    const res = await get(`${url}/healthz`);
    add('public URL', unreachable ? 'warn' : 'ok', `${url}/healthz: ${res.status} from here`);
  } catch (err) {
    add(
      'public URL',
      'warn',
      `nothing answers at ${url} from here (${reason(err)}); run doctor again while the agent runs`,
    );
  }
}

async function gpus(exec: ExecFileFn, add: Add) {
  let out: string;
  try {
    out = await exec('nvidia-smi', NVIDIA_SMI_ARGS, { timeout: 5000 });
  } catch (err) {
    const missing = (err as { code?: unknown }).code === 'ENOENT';
    return add(
      'GPU',
      'warn',
      missing
        ? 'no nvidia-smi on PATH: no NVIDIA GPU visible, models run on the CPU'
        : `nvidia-smi failed (${reason(err).split('\n')[0]}): models run on the CPU`,
    );
  }
  const found = parseNvidiaSmiCsv(out);
  if (found.length === 0)
    return add('GPU', 'warn', 'nvidia-smi lists no GPU: models run on the CPU');
  const list = found.map(
    (g) => `${g.index}: ${g.name}, ${gib(g.memoryFreeBytes)} free of ${gib(g.memoryTotalBytes)}`,
  );
  add('GPU', 'ok', list.join('; '));
}

/**
 * Which engine `agent start` would run and why (its own choice, agent/engines/select.ts), then what
 * that engine needs: the upstream or Ollama answering, the llama-server binary, the model file.
 */
async function engine(config: AgentConfig, f: typeof fetch, get: Get, add: Add) {
  const selection = engineSelection(config);
  const { kind, reason } = await chooseEngine({ ...selection, fetch: f });
  const binary = selection.llamaServer;
  if (kind === 'llama-server' && !(binary && existsSync(binary))) {
    add(
      'engine',
      'fail',
      `llama-server: ${reason}: ${binary ? `${binary} not found` : 'no binary: give --llama-server PATH, or build one with bash scripts/build-llama-cpp.sh llama-server'}`,
    );
  } else {
    // OLLAMA_HOST given but not answering: start runs, on another engine than the operator meant.
    const fellBack = config.ollamaHost && !config.engine && kind !== 'ollama';
    add('engine', fellBack ? 'warn' : 'ok', `${kind}: ${reason}`);
  }
  if (kind === 'openai' || kind === 'ollama') return upstream(config, get, add);
  if (kind === 'llama-cpp') embedded(config, add);
  if (usesModelManager(config)) return add('model', 'ok', `model catalog ${config.catalog}`);
  try {
    const file = await stat(config.modelPath);
    add('model', 'ok', `${config.modelPath} (${gib(file.size)})`);
  } catch {
    add(
      'model',
      'fail',
      `no model at ${config.modelPath}: give --model-path, or fetch one (agent models pull)`,
    );
  }
}

/** The OpenAI-compatible upstream or Ollama server answering. */
async function upstream(config: AgentConfig, get: Get, add: Add) {
  const ollama = config.ollamaHost ?? 'http://127.0.0.1:11434';
  const url = config.upstreamUrl
    ? `${config.upstreamUrl.replace(/\/v1$/, '')}/v1/models`
    : `${/^https?:\/\//.test(ollama) ? ollama : `http://${ollama}`}/api/version`;
  try {
    const res = await get(url);
    add('upstream', res.ok ? 'ok' : 'fail', `${url}: ${res.status}`);
  } catch (err) {
    add('upstream', 'fail', `${url}: ${reason(err)}`);
  }
}

/** The data folder is writable, and the disk where models go has room. */
async function dataFolder(config: AgentConfig, add: Add) {
  const dir = config.dataDir;
  if (dir) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await access(dir, constants.W_OK);
      add('data folder', 'ok', dir);
    } catch (err) {
      add('data folder', 'fail', `${dir}: ${reason(err)}`);
    }
  }
  const models = config.modelsDir ?? dirname(config.modelPath);
  const fs = await statfs(await nearestExisting(models));
  const free = fs.bavail * fs.bsize;
  add('disk', free < LOW_DISK_BYTES ? 'warn' : 'ok', `${gib(free)} free for models in ${models}`);
}

async function nearestExisting(path: string): Promise<string> {
  let at = path;
  for (;;) {
    try {
      await stat(at);
      return at;
    } catch {
      const up = dirname(at);
      if (up === at) return at;
      at = up;
    }
  }
}

/** Prints the checks as a table; 1 when any failed. */
export async function runDoctor(
  config: AgentConfig,
  io: { out: (s: string) => void },
  deps: DoctorDeps = {},
): Promise<number> {
  const checks = await doctor(config, deps);
  const width = Math.max(...checks.map((c) => c.name.length));
  for (const c of checks) io.out(`${c.status.padEnd(5)} ${c.name.padEnd(width)}  ${c.detail}\n`);
  const failed = checks.filter((c) => c.status === 'fail').length;
  io.out(failed ? `\n${failed} check(s) failed\n` : '\nno failures\n');
  return failed ? 1 : 0;
}
