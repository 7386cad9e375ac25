// `agent start` configuration: flags over environment variables, defaults, validation.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type AgentConfig,
  agentUrl,
  ConfigError,
  contextSequences,
  defaultAgentId,
  engineSelection,
  parseCommand,
  unreachableAdvertisement,
} from '../../../agent/config.ts';
import { DEMO_MODEL_FILE } from '../../../agent/paths.ts';

const ctx = (env: Record<string, string> = {}) => ({
  env,
  hostname: 'gpu-box',
  root: '/repo',
  cwd: '/work',
  home: '/home/op',
});
const DATA = '/home/op/.local/state/titancompute/agent';

function start(argv: string[], env: Record<string, string> = {}): AgentConfig {
  const parsed = parseCommand(['start', ...argv], ctx(env));
  if (parsed.command !== 'start') throw new Error('expected start');
  return parsed.config;
}

describe("cached sequences (the embedded engine's prompt cache)", () => {
  it('default to the slots; more are kept as cache; fewer than the slots are refused', () => {
    expect(contextSequences(start(['--max-concurrent-jobs', '3']))).toBe(3);
    const cached = start(['--max-concurrent-jobs', '2'], { CACHE_SEQUENCES: '8' });
    expect(contextSequences(cached)).toBe(8);
    expect(engineSelection(cached)).toMatchObject({ maxConcurrentJobs: 2, cacheSequences: 8 });
    expect(() => start(['--max-concurrent-jobs', '4', '--cache-sequences', '2'])).toThrow(
      /cache sequences/,
    );
  });
});

describe('parseCommand', () => {
  it('takes the metrics token from --metrics-token over METRICS_TOKEN; none by default', () => {
    expect(start([]).metricsToken).toBeUndefined();
    expect(start([], { METRICS_TOKEN: 'from-env' }).metricsToken).toBe('from-env');
    expect(start(['--metrics-token', 'flag'], { METRICS_TOKEN: 'env' }).metricsToken).toBe('flag');
  });

  it('fronts an OpenAI-compatible upstream when UPSTREAM_URL is set, with a queue bound', () => {
    const config = start(['--max-queue', '3'], { UPSTREAM_URL: 'http://127.0.0.1:8000/v1/' });
    expect(config).toMatchObject({
      engine: 'openai',
      upstreamUrl: 'http://127.0.0.1:8000/v1',
      maxQueue: 3,
    });
    expect(start([], { MAX_CONCURRENT_JOBS: '3' }).maxQueue).toBe(6);
  });

  it('applies the documented defaults', () => {
    expect(start([], { CONTROL_PLANE_URL: 'http://cp:8080/' })).toEqual({
      host: '127.0.0.1',
      port: 8081,
      publicUrl: undefined,
      publicHost: '127.0.0.1',
      agentId: 'gpu-box-8081',
      controlPlaneUrl: 'http://cp:8080',
      joinToken: undefined,
      maxConcurrentJobs: 4,
      maxQueue: 8,
      modelPath: `${DATA}/models/SmolLM2-135M-Instruct.Q4_1.gguf`,
      models: undefined,
      ollamaHost: undefined,
      engine: undefined,
      engineInstall: true,
      upstreamUrl: undefined,
      contextSize: undefined,
      threads: undefined,
      logFormat: 'json',
      drainTimeoutMs: 30_000,
      dataDir: DATA,
      stateDir: `${DATA}/credentials`,
      modelsDir: `${DATA}/models`,
      corsOrigins: ['*'],
    });
  });

  it('reads the CORS origins from --cors-origins or AGENT_CORS_ORIGINS', () => {
    expect(start(['--cors-origins', 'http://a.test, http://b.test/'], {}).corsOrigins).toEqual([
      'http://a.test',
      'http://b.test',
    ]);
    expect(start([], { AGENT_CORS_ORIGINS: 'http://c.test' }).corsOrigins).toEqual([
      'http://c.test',
    ]);
  });

  it('keeps state in one data folder outside the package; relative paths are read where given', () => {
    expect(start([], { XDG_STATE_HOME: '/state' })).toMatchObject({
      dataDir: '/state/titancompute/agent',
      stateDir: '/state/titancompute/agent/credentials',
      modelsDir: '/state/titancompute/agent/models',
    });
    expect(
      start(['--data-dir', 'd', '--catalog', './c.json', '--model-path', 'm.gguf'], {
        TLS_CERT: 'tls/cert.pem',
        TLS_KEY: '/etc/key.pem',
      }),
    ).toMatchObject({
      dataDir: '/work/d',
      stateDir: '/work/d/credentials',
      modelsDir: '/work/d/models',
      catalog: '/work/c.json',
      modelPath: '/work/m.gguf',
      tlsCert: '/work/tls/cert.pem',
      tlsKey: '/etc/key.pem',
    });
    expect(start(['--state-dir', 's', '--models-dir', '/models'])).toMatchObject({
      stateDir: '/work/s',
      modelsDir: '/models',
    });
  });

  it('answers --version and doctor', () => {
    expect(parseCommand(['--version'], ctx()).command).toBe('version');
    expect(parseCommand(['-V'], ctx()).command).toBe('version');
    const doctor = parseCommand(['doctor', '--control-plane-url', 'https://cp.example'], ctx());
    expect(doctor).toMatchObject({
      command: 'doctor',
      config: { controlPlaneUrl: 'https://cp.example' },
    });
  });

  it('reads the environment, including the legacy COORDINATOR_ENDPOINT', () => {
    const config = start([], {
      COORDINATOR_ENDPOINT: 'https://old-cp',
      JOIN_TOKEN: 'tok',
      AGENT_ID: 'agent-7',
      PUBLIC_HOST: '10.0.0.5',
      PORT: '9000',
      MAX_CONCURRENT_JOBS: '8',
      SUPPORTED_MODELS: 'llama3:8b, qwen2:7b,',
      OLLAMA_HOST: 'localhost:11434',
      OLLAMA_NUM_PARALLEL: '3',
      MODEL_PATH: '/models/x.gguf',
      HOST: '0.0.0.0',
      ENGINE: 'ollama',
    });
    expect(config).toMatchObject({
      controlPlaneUrl: 'https://old-cp',
      joinToken: 'tok',
      agentId: 'agent-7',
      publicHost: '10.0.0.5',
      port: 9000,
      maxConcurrentJobs: 8,
      models: ['llama3:8b', 'qwen2:7b'],
      ollamaHost: 'localhost:11434',
      ollamaNumParallel: 3,
      modelPath: '/models/x.gguf',
      host: '0.0.0.0',
      engine: 'ollama',
    });
    expect(agentUrl(config, 9000)).toBe('http://10.0.0.5:9000');
  });

  it('lets flags win over the environment; CONTROL_PLANE_URL wins over the legacy name', () => {
    const config = start(
      [
        '--port',
        '7000',
        '--id',
        'cli-agent',
        '--models',
        'a',
        '--public-url',
        'https://agent.example/',
      ],
      {
        PORT: '9000',
        AGENT_ID: 'env-agent',
        CONTROL_PLANE_URL: 'http://new',
        COORDINATOR_ENDPOINT: 'http://old',
      },
    );
    expect(config).toMatchObject({
      port: 7000,
      agentId: 'cli-agent',
      models: ['a'],
      controlPlaneUrl: 'http://new',
    });
    expect(agentUrl(config, 7000)).toBe('https://agent.example');
  });

  it('resolves a relative model path against the current folder', () => {
    expect(start(['--model-path', 'm/x.gguf']).modelPath).toBe('/work/m/x.gguf');
  });

  it("finds the demo model in a checkout's .cache/models when the data folder has none", () => {
    const root = mkdtempSync(join(tmpdir(), 'titan-checkout-'));
    try {
      const inCheckout = join(root, '.cache', 'models', DEMO_MODEL_FILE);
      mkdirSync(dirname(inCheckout), { recursive: true });
      writeFileSync(inCheckout, '');
      const parsed = parseCommand(['start'], {
        ...ctx({ AGENT_DATA_DIR: join(root, 'data') }),
        root,
      });
      if (parsed.command !== 'start') throw new Error('expected start');
      expect(parsed.config.modelPath).toBe(inCheckout);
      const inData = join(root, 'data', 'models', DEMO_MODEL_FILE);
      mkdirSync(dirname(inData), { recursive: true });
      writeFileSync(inData, '');
      const again = parseCommand(['start'], {
        ...ctx({ AGENT_DATA_DIR: join(root, 'data') }),
        root,
      });
      if (again.command !== 'start') throw new Error('expected start');
      expect(again.config.modelPath).toBe(inData);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('warns when a loopback agent URL is advertised to a control plane on another host', () => {
    expect(unreachableAdvertisement('http://127.0.0.1:8081', 'https://cp.example.com')).toMatch(
      /loopback.*--public-url/,
    );
    expect(unreachableAdvertisement('http://[::1]:8081', 'http://10.0.0.2:8080')).toBeDefined();
    expect(
      unreachableAdvertisement('http://localhost:8081', 'http://127.0.0.1:8080'),
    ).toBeUndefined();
    expect(
      unreachableAdvertisement('http://10.0.0.5:8081', 'https://cp.example.com'),
    ).toBeUndefined();
  });

  it('takes ENGINE=llama-server with an operator binary (flag over LLAMA_SERVER), read against cwd', () => {
    const c = start(['--engine', 'llama-server', '--llama-server', 'bin/llama-server']);
    expect(c.engine).toBe('llama-server');
    expect(c.llamaServer).toBe('/work/bin/llama-server');
    expect(start([], { ENGINE: 'llama-server', LLAMA_SERVER: '/opt/ls' }).llamaServer).toBe(
      '/opt/ls',
    );
    expect(start([]).llamaServer).toBeUndefined();
  });

  it('rejects bad values with a ConfigError', () => {
    expect(() => start(['--port', 'http'])).toThrow(ConfigError);
    expect(() => start(['--max-concurrent-jobs', '0'])).toThrow(/max concurrent jobs/);
    expect(() => start(['--id', 'bad id!'])).toThrow(/agent id/);
    expect(() => start([], { OLLAMA_NUM_PARALLEL: 'two' })).toThrow(/OLLAMA_NUM_PARALLEL/);
    expect(() => start(['--engine', 'vllm'])).toThrow(/engine/);
    expect(() => start(['--engine', 'openai'])).toThrow(/upstream-url/);
    expect(() => start(['--upstream-url', 'ftp://x'])).toThrow(/upstream URL/);
    expect(() => start(['--max-queue', 'lots'])).toThrow(/max queue/);
    expect(() => start(['--control-plane-url', 'cp:8080'])).toThrow(/http/);
    expect(() => parseCommand(['start', '--bogus'], ctx())).toThrow(ConfigError);
    expect(() => parseCommand(['stop'], ctx())).toThrow(/unknown command/);
  });

  it('supervises by default; --no-supervise or AGENT_SUPERVISE=0 runs the agent in process', () => {
    const supervisor = (argv: string[], env: Record<string, string> = {}) => {
      const parsed = parseCommand(['start', ...argv], ctx(env));
      if (parsed.command !== 'start') throw new Error('expected start');
      return parsed.supervisor;
    };
    expect(supervisor([])).toEqual({
      enabled: true,
      restartDelayMs: 500,
      restartMaxDelayMs: 30_000,
      restartLimit: 5,
      restartWindowMs: 300_000,
    });
    expect(supervisor(['--no-supervise']).enabled).toBe(false);
    expect(supervisor([], { AGENT_SUPERVISE: '0' }).enabled).toBe(false);
    expect(supervisor([], { AGENT_SUPERVISE: 'false' }).enabled).toBe(false);
    expect(supervisor(['--no-supervise'], { AGENT_SUPERVISE: '1' }).enabled).toBe(false);
    expect(supervisor([], { AGENT_SUPERVISE: '1' }).enabled).toBe(true);
    expect(
      supervisor([], {
        AGENT_RESTART_DELAY_MS: '100',
        AGENT_RESTART_MAX_DELAY_MS: '800',
        AGENT_RESTART_LIMIT: '2',
        AGENT_RESTART_WINDOW_MS: '10000',
      }),
    ).toMatchObject({
      restartDelayMs: 100,
      restartMaxDelayMs: 800,
      restartLimit: 2,
      restartWindowMs: 10_000,
    });
    expect(() => supervisor([], { AGENT_SUPERVISE: 'maybe' })).toThrow(ConfigError);
    expect(() => supervisor([], { AGENT_RESTART_LIMIT: '-1' })).toThrow(ConfigError);
  });

  it('shows help for no command, help or --help', () => {
    expect(parseCommand([], ctx()).command).toBe('help');
    expect(parseCommand(['start', '--help'], ctx()).command).toBe('help');
  });
});

describe('defaultAgentId', () => {
  it('squeezes the hostname into the agent id alphabet', () => {
    expect(defaultAgentId('my host.local', 8081)).toBe('my-host.local-8081');
    expect(defaultAgentId('-_weird', 1)).toBe('weird-1');
    expect(defaultAgentId('x'.repeat(80), 8081)).toHaveLength(64);
  });

  it('brackets IPv6 public hosts', () => {
    expect(agentUrl(start(['--public-host', '::1']), 8081)).toBe('http://[::1]:8081');
  });
});
