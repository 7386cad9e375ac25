// `agent models ls|pull|rm` on a local catalog, pulling from a loopback mirror; byte-size parsing.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelsMain } from '../../../../agent/cli-models.ts';
import { parseCommand } from '../../../../agent/config.ts';
import { FakeEngine } from '../../../../agent/engines/fake.ts';
import { createModelAdminApp } from '../../../../agent/models/admin.ts';
import { ModelCatalog } from '../../../../agent/models/catalog.ts';
import { Downloader } from '../../../../agent/models/download.ts';
import { ModelManager } from '../../../../agent/models/manager.ts';
import { type FileServer, startFileServer } from './file-server.ts';
import { SHAPES, writeSyntheticGguf } from './gguf-writer.ts';

const body = randomBytes(1024 * 1024);
let server: FileServer;
let dir: string;
let catalog: string;

beforeAll(async () => {
  server = await startFileServer({ '/o/r/resolve/main/t-Q8_0.gguf': { body } });
  dir = mkdtempSync(join(tmpdir(), 'titan-cli-'));
  catalog = join(dir, 'catalog.json');
  writeFileSync(
    catalog,
    JSON.stringify({
      models: {
        't:1b': {
          repo: 'o/r',
          variants: {
            Q8_0: { file: 't-Q8_0.gguf', sha256: createHash('sha256').update(body).digest('hex') },
            Q4_K_M: { file: 't-Q4_K_M.gguf' },
          },
        },
      },
    }),
  );
  writeSyntheticGguf(join(dir, 't-Q4_K_M.gguf'), {
    ...SHAPES['135m'],
    fileType: 15,
    tensorType: 12,
  });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(...argv: string[]) {
  return runWith(
    { MODEL_CATALOG: catalog, MODELS_DIR: dir, MODEL_BASE_URL: server.url },
    undefined,
    ...argv,
  );
}

async function runWith(
  env: Record<string, string>,
  f: typeof fetch | undefined,
  ...argv: string[]
) {
  let out = '';
  let err = '';
  const code = await modelsMain(argv, {
    env,
    ...(f ? { fetch: f } : {}),
    root: dir,
    cwd: dir,
    home: dir,
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    tty: false,
  });
  return { code, out, err };
}

describe('agent models', () => {
  it('ls lists every variant, whether it is on disk, and its memory estimate', async () => {
    const r = await run('ls');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/t:1b-q8_0\s+no\s+\?/);
    expect(r.out).toMatch(/t:1b-q4_k_m\s+yes\s+[\d.]+ MiB\s+[\d.]+ MiB/);
  });

  it('ls without a catalog lists the bundled one, in the data folder; --version answers', async () => {
    const r = await runWith({ AGENT_DATA_DIR: join(dir, 'data') }, undefined, 'ls');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/smollm2:135m-instruct-q4_1\s+no\s+/);
    const v = await runWith({}, undefined, '--version');
    expect(v.out).toMatch(/^agent \d+\.\d+\.\d+/);
  });

  it('pull downloads with a progress bar, rm deletes', async () => {
    const pulled = await run('pull', 't:1b-q8_0');
    expect(pulled.code).toBe(0);
    expect(pulled.err).toContain('100%');
    expect(pulled.out).toContain(`pulled t:1b-q8_0 → ${join(dir, 't-Q8_0.gguf')}`);
    expect(existsSync(join(dir, 't-Q8_0.gguf'))).toBe(true);
    const removed = await run('rm', 't:1b-q8_0');
    expect(removed.out).toContain('removed');
    expect(existsSync(join(dir, 't-Q8_0.gguf'))).toBe(false);
  });

  it('explains failures and bad usage', async () => {
    expect((await run('pull', 't:1b-q2_k')).err).toContain('names no variant');
    expect((await run('pull')).code).toBe(2);
    const missing = await run('pull', 't:1b-q4_k_m');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/not found.*\(not_found\)/);
  });

  it("--agent does the same through a running agent's /admin endpoint, with the admin key", async () => {
    const manager = new ModelManager({
      catalog: await ModelCatalog.load(catalog, { modelsDir: dir, baseUrl: server.url }),
      estimate: async () => 1000,
      load: async (v) => ({ engine: new FakeEngine({ models: [v.tag] }), measuredBytes: 1000 }),
      freeMemory: async () => 2 ** 30,
    });
    const app = createModelAdminApp({ manager, downloader: new Downloader(), adminKey: 'k' });
    const viaApp = (async (url: string | URL | Request, init?: RequestInit) =>
      app.request(String(url).replace('http://agent.test/admin', ''), init)) as typeof fetch;
    const env = { AGENT_URL: 'http://agent.test', AGENT_ADMIN_KEY: 'k' };
    const pulled = await runWith(env, viaApp, 'pull', 't:1b-q8_0');
    expect(pulled.code).toBe(0);
    expect(pulled.out).toContain('pulled t:1b-q8_0');
    const ls = await runWith(env, viaApp, 'ls');
    expect(JSON.parse(ls.out).advertised.map((m: { name: string }) => m.name)).toContain(
      't:1b-q8_0',
    );
    expect((await runWith(env, viaApp, 'rm', 't:1b-q8_0')).out).toContain('"removed": true');
    const denied = await runWith({ AGENT_URL: 'http://agent.test' }, viaApp, 'ls');
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('401');
  });

  it('agent start takes the catalog, models directory, mirror, memory limit and admin key', () => {
    const parsed = parseCommand(
      ['start', '--catalog', 'c.json', '--model-memory-limit', '512MiB', '--models-dir', 'm'],
      {
        env: { MODEL_BASE_URL: 'http://127.0.0.1:9/', AGENT_ADMIN_KEY: 'k' },
        hostname: 'h',
        root: '/pkg',
        cwd: '/r',
        home: '/home/h',
      },
    );
    if (parsed.command !== 'start') throw new Error('expected start');
    expect(parsed.config).toMatchObject({
      catalog: '/r/c.json',
      modelsDir: '/r/m',
      modelBaseUrl: 'http://127.0.0.1:9/',
      modelMemoryLimit: 512 * 2 ** 20,
      adminKey: 'k',
    });
    const bad = () =>
      parseCommand(['start', '--model-memory-limit', 'lots'], {
        env: {},
        hostname: 'h',
        root: '/pkg',
        cwd: '/r',
        home: '/home/h',
      });
    expect(bad).toThrow(/model memory limit/);
  });
});
