// Admin routes: loopback/key protection, pull with NDJSON progress from a loopback mirror, ls, rm, load.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeEngine } from '../../../../agent/engines/fake.ts';
import { createModelAdminApp, isLoopback, type PullEvent } from '../../../../agent/models/admin.ts';
import { ModelCatalog } from '../../../../agent/models/catalog.ts';
import { Downloader } from '../../../../agent/models/download.ts';
import { ModelManager } from '../../../../agent/models/manager.ts';
import { type FileServer, startFileServer } from './file-server.ts';

const body = randomBytes(2 * 1024 * 1024 + 5);
const sha = createHash('sha256').update(body).digest('hex');
let server: FileServer;
let dir: string;

beforeAll(async () => {
  server = await startFileServer({ '/org/tiny-GGUF/resolve/main/tiny-Q8_0.gguf': { body } });
  dir = mkdtempSync(join(tmpdir(), 'titan-admin-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function setup(opts: { adminKey?: string; remote?: string; sha256?: string } = {}) {
  const catalog = ModelCatalog.fromJson(
    {
      models: {
        'tiny:1b': {
          repo: 'org/tiny-GGUF',
          variants: {
            Q8_0: { file: 'tiny-Q8_0.gguf', size: body.length, sha256: opts.sha256 ?? sha },
          },
        },
      },
    },
    { dir, modelsDir: dir, baseUrl: server.url },
  );
  const manager = new ModelManager({
    catalog,
    estimate: async () => 1000,
    load: async (v) => ({ engine: new FakeEngine({ models: [v.tag] }), measuredBytes: 900 }),
    freeMemory: async () => 2 ** 30,
  });
  const app = createModelAdminApp({
    manager,
    downloader: new Downloader(),
    adminKey: opts.adminKey,
    remoteAddress: () => opts.remote ?? '127.0.0.1',
  });
  return { app, manager };
}

const post = (model: string, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify({ model }),
});

async function events(res: Response): Promise<PullEvent[]> {
  return (await res.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as PullEvent);
}

describe('model admin routes', () => {
  it('answers loopback peers only when no admin key is set', async () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('10.0.0.7')).toBe(false);
    expect((await setup({ remote: '10.0.0.7' }).app.request('/models')).status).toBe(403);
    expect((await setup().app.request('/models')).status).toBe(200);
  });

  it('refuses requests a reverse proxy on the same host forwarded, unless a key is set', async () => {
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      const headers = { [header]: '203.0.113.9' };
      expect((await setup().app.request('/models', { headers })).status, header).toBe(403);
    }
    const keyed = setup({ adminKey: 's3cret' }).app;
    const headers = { 'x-forwarded-for': '203.0.113.9', authorization: 'Bearer s3cret' };
    expect((await keyed.request('/models', { headers })).status).toBe(200);
  });

  it('requires the admin key, from loopback too, once one is set', async () => {
    const { app } = setup({ adminKey: 's3cret' });
    expect((await app.request('/models')).status).toBe(401);
    expect(
      (await app.request('/models', { headers: { authorization: 'Bearer nope' } })).status,
    ).toBe(401);
    expect(
      (await app.request('/models', { headers: { authorization: 'Bearer s3cret' } })).status,
    ).toBe(200);
  });

  it('pulls a variant from the mirror with streamed progress, then advertises it', async () => {
    const { app, manager } = setup();
    expect((await manager.listModels()).map((m) => m.name)).toEqual([]);
    const res = await app.request('/models/pull', post('tiny:1b-q8_0'));
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const ev = await events(res);
    expect(ev.at(-1)).toEqual({
      status: 'success',
      tag: 'tiny:1b-q8_0',
      path: join(dir, 'tiny-Q8_0.gguf'),
    });
    const progress = ev.filter((e) => e.status === 'downloading');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toMatchObject({ completed: body.length, total: body.length });
    expect(server.requests.at(-1)?.path).toBe('/org/tiny-GGUF/resolve/main/tiny-Q8_0.gguf');
    expect((await manager.listModels()).map((m) => m.name)).toEqual(['tiny:1b', 'tiny:1b-q8_0']);

    const ls = (await (await app.request('/models')).json()) as {
      variants: { tag: string; present: boolean }[];
    };
    expect(ls.variants).toEqual([expect.objectContaining({ tag: 'tiny:1b-q8_0', present: true })]);

    const load = await app.request('/models/load', post('tiny:1b'));
    expect(await load.json()).toEqual({ loaded: 'tiny:1b-q8_0' });
    const rm = await app.request('/models/tiny:1b-q8_0', { method: 'DELETE' });
    expect(await rm.json()).toEqual({ removed: true });
    expect(existsSync(join(dir, 'tiny-Q8_0.gguf'))).toBe(false);
  });

  it('streams a checksum mismatch as an error event with its code', async () => {
    const { app } = setup({ sha256: '0'.repeat(64) });
    const ev = await events(await app.request('/models/pull', post('tiny:1b-q8_0')));
    expect(ev.at(-1)).toMatchObject({ status: 'error', code: 'checksum_mismatch' });
  });

  it('404s names the catalog does not have', async () => {
    const { app } = setup();
    expect((await app.request('/models/pull', post('tiny:1b-q2_k'))).status).toBe(404);
    expect((await app.request('/models/pull', post(''))).status).toBe(400);
  });
});
