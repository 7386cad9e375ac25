// Agent configuration: `agent start` flags with environment-variable fallbacks, validated.
import { parseArgs } from 'node:util';
import { AGENT_ID_PATTERN } from '../protocol/agent-api.ts';
import { parseOrigins } from '../protocol/cors.ts';
import { findLlamaServer } from './engines/llama-server-process.ts';
import {
  DEFAULT_MODEL_NAME,
  ENGINE_KINDS,
  type EngineKind,
  type EngineSelection,
} from './engines/select.ts';
import { dataPaths, operatorPath, type PathContext } from './paths.ts';
import { parseBytes, parseLocation } from './placement.ts';

export interface AgentConfig {
  /** Bind address. */
  host: string;
  /** Listen port (0 = any free port). */
  port: number;
  /** Base URL clients use to reach this agent; undefined = derived from PUBLIC_HOST and port. */
  publicUrl: string | undefined;
  publicHost: string;
  agentId: string;
  controlPlaneUrl: string | undefined;
  joinToken: string | undefined;
  maxConcurrentJobs: number;
  /**
   * Embedded engine: context sequences, at least maxConcurrentJobs; those beyond it stay idle as
   * prompt cache (CACHE_SEQUENCES). Unset = maxConcurrentJobs.
   */
  cacheSequences?: number | undefined;
  /** Requests that may wait for a slot before the agent answers 429 (default 2 × slots). */
  maxQueue: number;
  modelPath: string;
  /** Models to advertise; undefined = engine default (all Ollama models, or smollm2:135m). */
  models: string[] | undefined;
  ollamaHost: string | undefined;
  /** OLLAMA_NUM_PARALLEL, the variable `ollama serve` reads: the Ollama engine's slots. */
  ollamaNumParallel?: number | undefined;
  engine: EngineKind | undefined;
  /** OpenAI-compatible upstream base URL (vLLM, SGLang, llama-server, TGI, Ollama /v1). */
  upstreamUrl: string | undefined;
  /** llama-server binary (LLAMA_SERVER); else the build cache's. Found: the default engine. */
  llamaServer?: string | undefined;
  /** Install the embedded engine into the data folder when it is to run and missing (ENGINE_INSTALL). */
  engineInstall?: boolean | undefined;
  contextSize: number | undefined;
  /** Memory offered to the scheduler at most (MEMORY_LIMIT), bytes. */
  memoryLimitBytes?: number | undefined;
  /** Where this agent runs (AGENT_LOCATION "lat,lon"). */
  location?: { latitude: number; longitude: number } | undefined;
  threads: number | undefined;
  logFormat: 'plain' | 'json';
  /** How long SIGTERM waits for in-flight streams. */
  drainTimeoutMs: number;
  /** The agent's data folder (AGENT_DATA_DIR): credential and pulled models, never the package. */
  dataDir?: string | undefined;
  /** Where the agent keeps its control-plane credential across restarts (AGENT_STATE_DIR). */
  stateDir?: string | undefined;
  /** PEM files: serve HTTPS with this certificate and key. */
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** PEM file of the CA that signed the control plane's certificate (besides the system CAs). */
  controlPlaneCa: string | undefined;
  /** Model catalog JSON: several quantized variants, best-fit choice, pulls (agent/models). */
  catalog?: string | undefined;
  /** Where pulled variants live (default .cache/models). */
  modelsDir?: string | undefined;
  /** Hugging Face-compatible base URL for catalog downloads (a local mirror). */
  modelBaseUrl?: string | undefined;
  /** Bytes all loaded models may use together; LRU models are unloaded beyond it. */
  modelMemoryLimit?: number | undefined;
  /** Required by /admin/* when set; otherwise /admin/* answers loopback clients only. */
  adminKey?: string | undefined;
  /** Required by GET /metrics when set (METRICS_TOKEN); otherwise loopback clients only. */
  metricsToken?: string | undefined;
  /** Browser origins that may call the agent directly (AGENT_CORS_ORIGINS; default `*`). */
  corsOrigins?: string[] | undefined;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'control-plane-url': { type: 'string' },
  'join-token': { type: 'string' },
  id: { type: 'string' },
  'public-host': { type: 'string' },
  'public-url': { type: 'string' },
  'max-concurrent-jobs': { type: 'string' },
  'max-queue': { type: 'string' },
  'cache-sequences': { type: 'string' },
  'upstream-url': { type: 'string' },
  'model-path': { type: 'string' },
  models: { type: 'string' },
  'ollama-host': { type: 'string' },
  engine: { type: 'string' },
  'llama-server': { type: 'string' },
  'context-size': { type: 'string' },
  threads: { type: 'string' },
  'log-format': { type: 'string' },
  'drain-timeout-ms': { type: 'string' },
  'memory-limit': { type: 'string' },
  'state-dir': { type: 'string' },
  'data-dir': { type: 'string' },
  location: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'control-plane-ca': { type: 'string' },
  catalog: { type: 'string' },
  'models-dir': { type: 'string' },
  'model-base-url': { type: 'string' },
  'model-memory-limit': { type: 'string' },
  'admin-key': { type: 'string' },
  'metrics-token': { type: 'string' },
  'cors-origins': { type: 'string' },
  'no-supervise': { type: 'boolean' },
  'no-engine-install': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

export const USAGE = `Usage: agent start [options]
       agent doctor [options]   check this host against the same options, start nothing
       agent models ls|pull|rm  (agent models --help)
       agent service print|install  systemd unit (agent service --help)
       agent engine install|status|packages  the embedded engine (agent engine --help)
       agent --version

Options (environment variable in brackets):
  --port <n>                 listen port [PORT] (default 8081)
  --host <addr>              bind address [HOST] (default 127.0.0.1)
  --control-plane-url <url>  control plane base URL [CONTROL_PLANE_URL, COORDINATOR_ENDPOINT]
  --join-token <token>       join token [JOIN_TOKEN]
  --id <id>                  agent id [AGENT_ID] (default <hostname>-<port>)
  --public-host <host>       host clients reach [PUBLIC_HOST] (default 127.0.0.1)
  --public-url <url>         full agent URL, overrides --public-host [PUBLIC_URL]
  --max-concurrent-jobs <n>  parallel jobs [MAX_CONCURRENT_JOBS] (default 4)
  --max-queue <n>            requests waiting for a slot before 429 [MAX_QUEUE] (default 2 × jobs)
  --cache-sequences <n>      embedded engine: prompts kept in the KV cache, jobs included
                             [CACHE_SEQUENCES] (default: max-concurrent-jobs); each costs
                             context-size tokens of KV memory, and a new prompt reuses the
                             longest matching one
  --model-path <file>        GGUF the engine loads [MODEL_PATH] (default: the demo
                             model in the models folder, or a checkout's .cache/models)
  --models <a,b>             model names to advertise [SUPPORTED_MODELS] (default ${DEFAULT_MODEL_NAME})
  --ollama-host <url>        use Ollama when it answers [OLLAMA_HOST]
  --engine <kind>            force llama-cpp, llama-server, ollama or openai [ENGINE]
                             (default: Ollama if it answers, else llama-server if a binary
                             is found, else llama-cpp, the embedded engine; agent doctor
                             says which and why)
  --llama-server <file>      llama-server binary [LLAMA_SERVER] (default: the one
                             scripts/build-llama-cpp.sh llama-server built, if any)
  --no-engine-install        never install the embedded engine: without node-llama-cpp
                             beside the agent or in <data-dir>/engines, llama-cpp fails
                             [ENGINE_INSTALL=0] (default: installed there when it is to
                             run, as agent engine install does)
  --upstream-url <url>       OpenAI-compatible server to front (ENGINE=openai) [UPSTREAM_URL]
  --context-size <n>         tokens of context per job, llama.cpp [CONTEXT_SIZE] (default 2048)
  --threads <n>              CPU threads, llama.cpp [THREADS] (default: all cores; several
                             agents on one host: give each its share)
  --log-format <json|plain>  one JSON object a line, or plain text for people [LOG_FORMAT]
                             (default json)
  --drain-timeout-ms <n>     wait for in-flight jobs on SIGTERM [DRAIN_TIMEOUT_MS] (default 30000)
  --data-dir <dir>           the agent's state: credential, pulled models [AGENT_DATA_DIR]
                             (default $XDG_STATE_HOME/titancompute/agent, else
                             ~/.local/state/titancompute/agent)
  --state-dir <dir>          the agent credential [AGENT_STATE_DIR] (default <data-dir>/credentials)
  --memory-limit <size>      memory offered to the scheduler at most, e.g. 6GiB [MEMORY_LIMIT]
  --location <lat,lon>       where this agent runs, for client-distance routing [AGENT_LOCATION]
  --tls-cert <file>          serve HTTPS with this PEM certificate [TLS_CERT]
  --tls-key <file>           and this PEM private key [TLS_KEY]
  --control-plane-ca <file>  PEM CA that signed the control plane's certificate [CONTROL_PLANE_CA]
  --catalog <file.json>      model catalog: quantized variants, best fit, pulls [MODEL_CATALOG]
  --models-dir <dir>         where pulled variants live [MODELS_DIR] (default <data-dir>/models)
  --model-base-url <url>     Hugging Face-compatible mirror for pulls [MODEL_BASE_URL]
  --model-memory-limit <n>   all loaded models together, e.g. 4GiB [MODEL_MEMORY_LIMIT] (default MEMORY_LIMIT)
  --admin-key <key>          key for /admin/* (else loopback only) [AGENT_ADMIN_KEY]
  --metrics-token <token>    Bearer token for GET /metrics, Prometheus text (else loopback
                             only) [METRICS_TOKEN]
  --cors-origins <a,b|*>     browser origins that may call this agent directly
                             [AGENT_CORS_ORIGINS] (default *; a request redirected by the
                             control plane arrives with Origin: null and is always allowed)
  --no-supervise             run the agent in this process, with no crash supervisor
                             [AGENT_SUPERVISE=0] (default: supervised, see below)

Supervision (ADR 0007): the agent runs in a child process; when it dies (a llama.cpp abort, an
OOM kill) the control plane is told at once and it is restarted after AGENT_RESTART_DELAY_MS
(500), doubling up to AGENT_RESTART_MAX_DELAY_MS (30000). More than AGENT_RESTART_LIMIT (5)
crashes within AGENT_RESTART_WINDOW_MS (300000): give up, exit non-zero.

Relative paths are read against the current folder.
`;

/** How `agent start` supervises the agent process (agent/supervisor.ts). */
export interface SupervisorConfig {
  /** false: `--no-supervise` / AGENT_SUPERVISE=0, the agent runs in this process. */
  enabled: boolean;
  /** Delay before the first restart; doubles with each crash in the window. */
  restartDelayMs: number;
  restartMaxDelayMs: number;
  /** Restarts allowed within restartWindowMs; one more crash and the supervisor gives up. */
  restartLimit: number;
  restartWindowMs: number;
}

export type ParsedCommand =
  | { command: 'help' }
  | { command: 'version' }
  | { command: 'doctor'; config: AgentConfig }
  | { command: 'start'; config: AgentConfig; supervisor: SupervisorConfig };

export interface ConfigContext extends PathContext {
  hostname: string;
}

export function parseCommand(argv: string[], ctx: ConfigContext): ParsedCommand {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.version || command === 'version') return { command: 'version' };
  if (parsed.values.help || command === undefined || command === 'help') return { command: 'help' };
  if ((command !== 'start' && command !== 'doctor') || rest.length > 0) {
    throw new ConfigError(`unknown command '${parsed.positionals.join(' ')}'`);
  }
  if (command === 'doctor') return { command, config: resolveConfig(parsed.values, ctx) };
  return {
    command: 'start',
    config: resolveConfig(parsed.values, ctx),
    supervisor: resolveSupervisor(parsed.values['no-supervise'] === true, ctx.env),
  };
}

function resolveSupervisor(
  noSupervise: boolean,
  env: Record<string, string | undefined>,
): SupervisorConfig {
  const raw = env.AGENT_SUPERVISE?.trim().toLowerCase() || undefined;
  if (raw !== undefined && !['0', '1', 'true', 'false', 'yes', 'no', 'on', 'off'].includes(raw)) {
    throw new ConfigError(`AGENT_SUPERVISE must be 1 or 0, got '${env.AGENT_SUPERVISE}'`);
  }
  const ms = (name: string, fallback: number, min: number) =>
    integer(env[name] || String(fallback), name, min, 86_400_000);
  return {
    enabled: !noSupervise && !['0', 'false', 'no', 'off'].includes(raw ?? ''),
    restartDelayMs: ms('AGENT_RESTART_DELAY_MS', 500, 0),
    restartMaxDelayMs: ms('AGENT_RESTART_MAX_DELAY_MS', 30_000, 0),
    restartLimit: integer(env.AGENT_RESTART_LIMIT || '5', 'AGENT_RESTART_LIMIT', 0, 1000),
    restartWindowMs: ms('AGENT_RESTART_WINDOW_MS', 300_000, 1),
  };
}

type Values = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
};

function resolveConfig(values: Values, ctx: ConfigContext): AgentConfig {
  const env = ctx.env;
  const pick = (flag: string | undefined, ...names: string[]): string | undefined => {
    if (flag !== undefined && flag !== '') return flag;
    for (const name of names) {
      const value = env[name];
      if (value !== undefined && value !== '') return value;
    }
    return undefined;
  };
  const port = integer(pick(values.port, 'PORT') ?? '8081', 'port', 0, 65535);
  const maxConcurrentJobs = integer(
    pick(values['max-concurrent-jobs'], 'MAX_CONCURRENT_JOBS') ?? '4',
    'max concurrent jobs',
    1,
    1024,
  );
  const agentId = pick(values.id, 'AGENT_ID') ?? defaultAgentId(ctx.hostname, port);
  if (!AGENT_ID_PATTERN.test(agentId)) {
    throw new ConfigError(`agent id '${agentId}' must match ${AGENT_ID_PATTERN}`);
  }
  const controlPlaneUrl = pick(
    values['control-plane-url'],
    'CONTROL_PLANE_URL',
    'COORDINATOR_ENDPOINT',
  );
  const publicUrl = pick(values['public-url'], 'PUBLIC_URL');
  for (const [name, url] of [
    ['control plane URL', controlPlaneUrl],
    ['public URL', publicUrl],
  ] as const) {
    if (url !== undefined && !/^https?:\/\/[^/]/.test(url)) {
      throw new ConfigError(`${name} must be an http(s) URL, got '${url}'`);
    }
  }
  const maxQueue = integer(
    pick(values['max-queue'], 'MAX_QUEUE') ?? String(2 * maxConcurrentJobs),
    'max queue',
    0,
    65536,
  );
  const upstreamUrl = pick(values['upstream-url'], 'UPSTREAM_URL')?.replace(/\/+$/, '');
  if (upstreamUrl !== undefined && !/^https?:\/\/[^/]/.test(upstreamUrl)) {
    throw new ConfigError(`upstream URL must be an http(s) URL, got '${upstreamUrl}'`);
  }
  const engine = pick(values.engine, 'ENGINE') ?? (upstreamUrl ? 'openai' : undefined);
  if (engine !== undefined && !ENGINE_KINDS.includes(engine as EngineKind)) {
    throw new ConfigError(`engine must be one of ${ENGINE_KINDS.join(', ')}, got '${engine}'`);
  }
  if (engine === 'openai' && !upstreamUrl) {
    throw new ConfigError('engine openai needs --upstream-url (or UPSTREAM_URL)');
  }
  const models = pick(values.models, 'SUPPORTED_MODELS')
    ?.split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  const paths = dataPaths(ctx, {
    dataDir: pick(values['data-dir'], 'AGENT_DATA_DIR'),
    stateDir: pick(values['state-dir'], 'AGENT_STATE_DIR'),
    modelsDir: pick(values['models-dir'], 'MODELS_DIR'),
  });
  const modelPath =
    operatorPath(ctx, pick(values['model-path'], 'MODEL_PATH')) ?? paths.defaultModelPath;
  const logFormat = pick(values['log-format'], 'LOG_FORMAT') ?? 'json';
  if (logFormat !== 'plain' && logFormat !== 'json') {
    throw new ConfigError(`log format must be plain or json, got '${logFormat}'`);
  }
  const optionalInt = (raw: string | undefined, name: string, min: number, max: number) =>
    raw === undefined ? undefined : integer(raw, name, min, max);
  return {
    host: pick(values.host, 'HOST') ?? '127.0.0.1',
    port,
    publicUrl: publicUrl?.replace(/\/+$/, ''),
    publicHost: pick(values['public-host'], 'PUBLIC_HOST') ?? '127.0.0.1',
    agentId,
    controlPlaneUrl: controlPlaneUrl?.replace(/\/+$/, ''),
    joinToken: pick(values['join-token'], 'JOIN_TOKEN'),
    maxConcurrentJobs,
    cacheSequences: optionalInt(
      pick(values['cache-sequences'], 'CACHE_SEQUENCES'),
      'cache sequences',
      maxConcurrentJobs,
      4096,
    ),
    maxQueue,
    modelPath,
    models: models?.length ? models : undefined,
    ollamaHost: pick(values['ollama-host'], 'OLLAMA_HOST'),
    ollamaNumParallel: optionalInt(
      pick(undefined, 'OLLAMA_NUM_PARALLEL'),
      'OLLAMA_NUM_PARALLEL',
      1,
      1024,
    ),
    engine: engine as EngineKind | undefined,
    upstreamUrl,
    llamaServer: operatorPath(ctx, pick(values['llama-server'], 'LLAMA_SERVER')),
    engineInstall:
      values['no-engine-install'] !== true &&
      !['0', 'false', 'no', 'off'].includes(ctx.env.ENGINE_INSTALL ?? ''),
    contextSize: optionalInt(
      pick(values['context-size'], 'CONTEXT_SIZE'),
      'context size',
      64,
      1 << 20,
    ),
    threads: optionalInt(pick(values.threads, 'THREADS'), 'threads', 1, 1024),
    memoryLimitBytes: parsed(
      pick(values['memory-limit'], 'MEMORY_LIMIT'),
      parseBytes,
      'memory limit',
    ),
    location: parsed(pick(values.location, 'AGENT_LOCATION'), parseLocation, 'location'),
    logFormat,
    dataDir: paths.dataDir,
    stateDir: paths.stateDir,
    drainTimeoutMs: integer(
      pick(values['drain-timeout-ms'], 'DRAIN_TIMEOUT_MS') ?? '30000',
      'drain timeout',
      0,
      3_600_000,
    ),
    ...tlsFiles(
      operatorPath(ctx, pick(values['tls-cert'], 'TLS_CERT')),
      operatorPath(ctx, pick(values['tls-key'], 'TLS_KEY')),
      operatorPath(ctx, pick(values['control-plane-ca'], 'CONTROL_PLANE_CA')),
    ),
    ...modelOptions(pick, ctx, values),
    modelsDir: paths.modelsDir,
    corsOrigins: parseOrigins(pick(values['cors-origins'], 'AGENT_CORS_ORIGINS') ?? '*'),
  };
}

function parsed<T>(raw: string | undefined, parse: (s: string) => T, name: string): T | undefined {
  if (raw === undefined) return undefined;
  try {
    return parse(raw);
  } catch (err) {
    throw new ConfigError(`${name}: ${(err as Error).message}`);
  }
}

function tlsFiles(cert: string | undefined, key: string | undefined, ca: string | undefined) {
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError('TLS needs both --tls-cert and --tls-key');
  }
  return { tlsCert: cert, tlsKey: key, controlPlaneCa: ca };
}

function modelOptions(
  pick: (flag: string | undefined, ...names: string[]) => string | undefined,
  ctx: ConfigContext,
  values: Values,
): Pick<
  AgentConfig,
  'catalog' | 'modelBaseUrl' | 'modelMemoryLimit' | 'adminKey' | 'metricsToken'
> {
  const baseUrl = pick(values['model-base-url'], 'MODEL_BASE_URL');
  if (baseUrl !== undefined && !/^https?:\/\/[^/]/.test(baseUrl)) {
    throw new ConfigError(`model base URL must be an http(s) URL, got '${baseUrl}'`);
  }
  const limit = pick(values['model-memory-limit'], 'MODEL_MEMORY_LIMIT');
  return {
    catalog: operatorPath(ctx, pick(values.catalog, 'MODEL_CATALOG')),
    modelBaseUrl: baseUrl,
    modelMemoryLimit: parsed(limit, parseBytes, 'model memory limit'),
    adminKey: pick(values['admin-key'], 'AGENT_ADMIN_KEY'),
    metricsToken: pick(values['metrics-token'], 'METRICS_TOKEN'),
  };
}

function integer(raw: string, name: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

/** `<hostname>-<port>`, squeezed into the agent id alphabet. */
export function defaultAgentId(hostname: string, port: number): string {
  const host = hostname.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'agent';
  const suffix = `-${port}`;
  return `${host.slice(0, 64 - suffix.length)}${suffix}`;
}

/** The URL the agent registers: PUBLIC_URL, or http(s)://PUBLIC_HOST:port. */
export function agentUrl(config: AgentConfig, boundPort: number): string {
  if (config.publicUrl) return config.publicUrl;
  const host = config.publicHost.includes(':') ? `[${config.publicHost}]` : config.publicHost;
  return `${config.tlsCert ? 'https' : 'http'}://${host}:${boundPort}`;
}

/** Whether a URL's host is this machine only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\./.test(host)
  );
}

/**
 * Why clients of this control plane could not reach the URL this agent advertises: a loopback
 * agent URL given to a control plane on another host, whose clients are elsewhere too.
 */
export function unreachableAdvertisement(agent: string, controlPlane: string): string | undefined {
  if (!isLoopbackUrl(agent) || isLoopbackUrl(controlPlane)) return undefined;
  return (
    `this agent advertises ${agent}, a loopback address, to the control plane at ${controlPlane}: ` +
    'clients on other hosts cannot reach it. Set --public-url (or --public-host) to an address ' +
    'they can reach, and --host 0.0.0.0 (or that address) to listen on it.'
  );
}

/** The embedded engine's context sequences: the slots, and those kept as prompt cache. */
export function contextSequences(
  config: Pick<AgentConfig, 'cacheSequences' | 'maxConcurrentJobs'>,
): number {
  return Math.max(config.cacheSequences ?? 0, config.maxConcurrentJobs);
}

/** The selection `agent start` makes from its options; the llama-server binary is looked up here. */
export function engineSelection(
  config: AgentConfig,
  env: NodeJS.ProcessEnv = process.env,
): EngineSelection {
  const llamaServer = findLlamaServer(config.llamaServer, env);
  return {
    ...(config.engine ? { engine: config.engine } : {}),
    ...(config.ollamaHost ? { ollamaHost: config.ollamaHost } : {}),
    modelPath: config.modelPath,
    ...(config.models ? { models: config.models } : {}),
    maxConcurrentJobs: config.maxConcurrentJobs,
    cacheSequences: contextSequences(config),
    ...(config.upstreamUrl ? { upstreamUrl: config.upstreamUrl } : {}),
    ...(config.ollamaNumParallel ? { ollamaNumParallel: config.ollamaNumParallel } : {}),
    ...(config.contextSize ? { contextSizePerSequence: config.contextSize } : {}),
    ...(config.threads ? { threads: config.threads } : {}),
    ...(llamaServer ? { llamaServer } : {}),
  };
}
