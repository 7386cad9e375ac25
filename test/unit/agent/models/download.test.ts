// Pulls over loopback HTTP with real files: progress, resume after a cut, checksum, dedupe, errors.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DownloadError,
  Downloader,
  type DownloadProgress,
} from '../../../../agent/models/download.ts';
import { type FileServer, startFileServer } from './file-server.ts';

const body = randomBytes(3 * 1024 * 1024 + 17);
const sha = createHash('sha256').update(body).digest('hex');
let server: FileServer;
let dir: string;

beforeAll(async () => {
  server = await startFileServer({ '/repo/resolve/main/m.gguf': { body } });
});
afterAll(() => server.close());
afterEach(() => {
  server.requests.length = 0;
  rmSync(dir, { recursive: true, force: true });
});
const fresh = () => {
  dir = mkdtempSync(join(tmpdir(), 'titan-dl-'));
  return join(dir, 'm.gguf');
};
const url = () => `${server.url}/repo/resolve/main/m.gguf`;

async function failure(p: Promise<unknown>): Promise<DownloadError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DownloadError);
  return err as DownloadError;
}

describe('Downloader', () => {
  it('downloads with progress, verifies sha256 and renames into place', async () => {
    const dest = fresh();
    const seen: DownloadProgress[] = [];
    const out = await new Downloader().download(
      { url: url(), dest, sha256: sha, size: body.length },
      { onProgress: (p) => seen.push(p) },
    );
    expect(out).toBe(dest);
    expect(readFileSync(dest).equals(body)).toBe(true);
    expect(existsSync(`${dest}.partial`)).toBe(false);
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.at(-1)).toEqual({
      receivedBytes: body.length,
      totalBytes: body.length,
      resumedFromBytes: 0,
    });
    const received = seen.map((p) => p.receivedBytes);
    expect([...received].sort((a, b) => a - b)).toEqual(received);
  });

  it('keeps the partial file when interrupted and resumes it with a Range request', async () => {
    const dest = fresh();
    server.cutNext('/repo/resolve/main/m.gguf', 1_000_000);
    const err = await failure(new Downloader().download({ url: url(), dest, sha256: sha }));
    expect(err.code).toBe('interrupted');
    const kept = statSync(`${dest}.partial`).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(body.length);

    const seen: DownloadProgress[] = [];
    await new Downloader().download(
      { url: url(), dest, sha256: sha },
      { onProgress: (p) => seen.push(p) },
    );
    expect(server.requests.at(-1)?.headers.range).toBe(`bytes=${kept}-`);
    expect(seen[0]?.resumedFromBytes).toBe(kept);
    expect(readFileSync(dest).equals(body)).toBe(true);
  });

  it('rejects a checksum mismatch and deletes the file', async () => {
    const dest = fresh();
    const err = await failure(
      new Downloader().download({ url: url(), dest, sha256: 'a'.repeat(64) }),
    );
    expect(err.code).toBe('checksum_mismatch');
    expect(err.message).toContain(sha);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it('runs one download when the same file is asked for twice at once', async () => {
    const dest = fresh();
    const dl = new Downloader();
    server.hold();
    const a = dl.download({ url: url(), dest, sha256: sha });
    const b = dl.download({ url: url(), dest, sha256: sha });
    expect(dl.active()).toEqual([dest]);
    await new Promise((r) => setTimeout(r, 50));
    server.release();
    expect(await Promise.all([a, b])).toEqual([dest, dest]);
    expect(server.requests.filter((r) => r.path.endsWith('m.gguf'))).toHaveLength(1);
    expect(dl.active()).toEqual([]);
  });

  it('says 404 plainly', async () => {
    const dest = fresh();
    const err = await failure(new Downloader().download({ url: `${server.url}/nope.gguf`, dest }));
    expect(err.code).toBe('not_found');
    expect(err.message).toContain('404');
  });

  it('refuses before writing when the disk is too small', async () => {
    const dest = fresh();
    const dl = new Downloader({ freeDiskBytes: async () => 1024 });
    const err = await failure(dl.download({ url: url(), dest }));
    expect(err.code).toBe('disk_full');
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it('starts over when the partial file is larger than the catalog size', async () => {
    const dest = fresh();
    writeFileSync(`${dest}.partial`, Buffer.alloc(body.length + 5));
    await new Downloader().download({ url: url(), dest, sha256: sha, size: body.length });
    expect(server.requests.at(-1)?.headers.range).toBeUndefined();
    expect(readFileSync(dest).equals(body)).toBe(true);
  });

  it('stops when the only caller aborts', async () => {
    const dest = fresh();
    const ac = new AbortController();
    server.hold();
    const p = new Downloader().download({ url: url(), dest }, { signal: ac.signal });
    ac.abort();
    server.release();
    expect((await failure(p)).code).toBe('aborted');
  });
});
