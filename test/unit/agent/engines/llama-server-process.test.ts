// The managed llama-server (ENGINE=llama-server) with a fake child and a fake /health: its command
// line, where the binary is looked for, start, restart with backoff after a crash, giving up, close.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type ChildHandle,
  cachedLlamaServer,
  findLlamaServer,
  LLAMA_CPP_PYTHON_VERSION,
  llamaServerArgs,
  ManagedLlamaServer,
} from '../../../../agent/engines/llama-server-process.ts';
import type { ExitStatus } from '../../../../agent/supervisor.ts';

const quiet = { info() {}, warn() {}, error() {} };

describe('llamaServerArgs', () => {
  it('passes the model, alias, private loopback port, slots, total context and threads', () => {
    const args = llamaServerArgs({
      modelPath: '/m/x.gguf',
      modelName: 'smollm2:135m',
      port: 4321,
      slots: 4,
      contextSizePerSequence: 2048,
      threads: 2,
    });
    expect(args.join(' ')).toBe(
      '-m /m/x.gguf --alias smollm2:135m --host 127.0.0.1 --port 4321 -np 4 -c 8192 ' +
        '--threads 2 --threads-batch 2 --metrics --no-webui',
    );
  });

  it('leaves threads to llama-server when none is set', () => {
    const args = llamaServerArgs({
      modelPath: 'a',
      modelName: 'b',
      port: 1,
      slots: 1,
      contextSizePerSequence: 512,
    });
    expect(args).not.toContain('--threads');
    expect(args.slice(args.indexOf('-c'), args.indexOf('-c') + 2)).toEqual(['-c', '512']);
  });
});

describe('finding llama-server', () => {
  it('takes the operator path first, else the build cache (GPU builds before the CPU build)', () => {
    const cache = mkdtempSync(join(tmpdir(), 'titan-ls-'));
    const env = { TITAN_CACHE_DIR: cache };
    expect(findLlamaServer(undefined, env)).toBeUndefined();
    const cpu = cachedLlamaServer(env, 'cpu');
    expect(cpu).toBe(join(cache, 'llama.cpp', LLAMA_CPP_PYTHON_VERSION, 'build/bin/llama-server'));
    mkdirSync(dirname(cpu), { recursive: true });
    writeFileSync(cpu, '');
    expect(findLlamaServer(undefined, env)).toBe(cpu);
    const cuda = cachedLlamaServer(env, 'cuda');
    expect(cuda).toContain(`${LLAMA_CPP_PYTHON_VERSION}-cuda`);
    mkdirSync(dirname(cuda), { recursive: true });
    writeFileSync(cuda, '');
    expect(findLlamaServer(undefined, env)).toBe(cuda);
    expect(findLlamaServer('/opt/llama-server', env)).toBe('/opt/llama-server');
  });
});

/** Children that exit when told (or killed), and a /health that answers while one is "up". */
function fakes() {
  const children: (ChildHandle & { exit(e: ExitStatus): void; signals: string[] })[] = [];
  const spawn = (_binary: string, args: string[]) => {
    let exit: (e: ExitStatus) => void = () => {};
    const exited = new Promise<ExitStatus>((r) => {
      exit = r;
    });
    const child = {
      pid: 1000 + children.length,
      args,
      exited,
      signals: [] as string[],
      exit,
      kill(signal: NodeJS.Signals) {
        child.signals.push(signal);
        exit({ code: null, signal });
      },
    };
    children.push(child);
    return child;
  };
  let up = true;
  const fetchImpl = (async () => {
    if (!up) throw new Error('ECONNREFUSED');
    return new Response('{"status":"ok"}', { status: 200 });
  }) as typeof fetch;
  return { children, spawn, fetch: fetchImpl, setUp: (v: boolean) => (up = v) };
}

const ARGS = { modelPath: 'm.gguf', modelName: 'm', slots: 2, contextSizePerSequence: 256 };
const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

type ManagedOptions = ConstructorParameters<typeof ManagedLlamaServer>[0];

/** A managed server over the fakes, with the options a test changes. */
const managed = (f: ReturnType<typeof fakes>, extra: Partial<ManagedOptions>) =>
  new ManagedLlamaServer({
    binary: 'llama-server',
    args: ARGS,
    log: quiet,
    spawn: f.spawn,
    fetch: f.fetch,
    ...extra,
  });

describe('ManagedLlamaServer', () => {
  it('starts once /health answers, restarts after a crash with backoff, stops on close', async () => {
    const f = fakes();
    const server = managed(f, {
      restart: { delayMs: 10, maxDelayMs: 100, limit: 3, windowMs: 60_000 },
    });
    await server.start();
    expect(server.healthy).toBe(true);
    expect(f.children).toHaveLength(1);
    const firstUrl = server.url;
    f.children[0]?.exit({ code: null, signal: 'SIGKILL' });
    await until(() => f.children.length === 2 && server.healthy);
    expect(server.restarts).toBe(1);
    expect(server.pid).toBe(1001);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(firstUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await server.close(1000);
    expect(f.children[1]?.signals).toEqual(['SIGTERM']);
    expect(f.children).toHaveLength(2);
  });

  it('gives up after too many crashes in the window and says so', async () => {
    const f = fakes();
    const gaveUp: ExitStatus[] = [];
    const server = managed(f, {
      restart: { delayMs: 1, maxDelayMs: 1, limit: 2, windowMs: 60_000 },
      onGiveUp: (e) => gaveUp.push(e),
    });
    await server.start();
    for (let n = 1; n <= 3; n++) {
      await until(() => f.children.length === n && server.healthy);
      f.children[n - 1]?.exit({ code: 134, signal: null });
    }
    await until(() => gaveUp.length === 1);
    expect(gaveUp[0]).toEqual({ code: 134, signal: null });
    expect(f.children).toHaveLength(3);
    expect(server.healthy).toBe(false);
  });

  it('fails start() when the child exits before it is healthy', async () => {
    const f = fakes();
    f.setUp(false);
    const server = managed(f, {});
    const started = server.start();
    await until(() => f.children.length === 1);
    f.children[0]?.exit({ code: 1, signal: null });
    await expect(started).rejects.toThrow(/exited before it was healthy/);
  });

  it('kills a child that stops answering /health (the exit then restarts it)', async () => {
    const f = fakes();
    const server = managed(f, {
      healthIntervalMs: 10,
      healthFailures: 2,
      restart: { delayMs: 1, maxDelayMs: 1, limit: 3, windowMs: 60_000 },
    });
    await server.start();
    f.setUp(false);
    await until(() => f.children[0]?.signals.includes('SIGKILL') === true);
    f.setUp(true);
    await until(() => f.children.length === 2 && server.healthy);
    await server.close(1000);
  });
});
