// Resumable, verified model downloads: Range resume, sha256, atomic rename, one download per file.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

export type DownloadErrorCode =
  | 'not_found'
  | 'http_error'
  | 'checksum_mismatch'
  | 'size_mismatch'
  | 'disk_full'
  | 'interrupted'
  | 'aborted';

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface DownloadProgress {
  receivedBytes: number;
  /** Undefined when neither the catalog nor the server says. */
  totalBytes: number | undefined;
  /** Bytes that were already on disk from an earlier, interrupted attempt. */
  resumedFromBytes: number;
}

export interface DownloadRequest {
  url: string;
  dest: string;
  sha256?: string | undefined;
  size?: number | undefined;
}

export interface DownloadOptions {
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

export interface DownloaderDeps {
  fetch?: typeof fetch;
  /** Free bytes on the file system holding `dir` (tests inject a small disk). */
  freeDiskBytes?: (dir: string) => Promise<number>;
  headers?: Record<string, string>;
}

interface InFlight {
  promise: Promise<string>;
  listeners: Set<(p: DownloadProgress) => void>;
  callers: number;
  controller: AbortController;
}

export class Downloader {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly fetchImpl: typeof fetch;
  private readonly freeDisk: (dir: string) => Promise<number>;

  constructor(private readonly deps: DownloaderDeps = {}) {
    this.fetchImpl = deps.fetch ?? fetch;
    this.freeDisk =
      deps.freeDiskBytes ??
      (async (dir) => {
        const s = await statfs(dir);
        return s.bavail * s.bsize;
      });
  }

  /** Files being downloaded right now. */
  active(): string[] {
    return [...this.inFlight.keys()];
  }

  /**
   * Downloads `url` to `dest` (resuming `dest.partial`), verifies it and renames it into place.
   * A second call for the same `dest` while the first runs joins it: one download, both resolve.
   * The download stops only when every caller's signal has aborted.
   */
  download(req: DownloadRequest, opts: DownloadOptions = {}): Promise<string> {
    let flight = this.inFlight.get(req.dest);
    if (!flight) {
      const controller = new AbortController();
      const listeners = new Set<(p: DownloadProgress) => void>();
      const promise = this.run(req, controller.signal, (p) => {
        for (const l of listeners) l(p);
      }).finally(() => this.inFlight.delete(req.dest));
      flight = { promise, listeners, callers: 0, controller };
      this.inFlight.set(req.dest, flight);
    }
    const f = flight;
    f.callers++;
    if (opts.onProgress) f.listeners.add(opts.onProgress);
    const detach = () => {
      if (opts.onProgress) f.listeners.delete(opts.onProgress);
      f.callers--;
    };
    if (!opts.signal) return f.promise.finally(detach);
    const signal = opts.signal;
    return new Promise<string>((resolve, reject) => {
      const onAbort = () => {
        detach();
        if (f.callers === 0) f.controller.abort();
        reject(new DownloadError('aborted', `download of ${req.url} aborted`));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      f.promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          detach();
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          detach();
          reject(e);
        },
      );
    });
  }

  private async run(
    req: DownloadRequest,
    signal: AbortSignal,
    progress: (p: DownloadProgress) => void,
  ): Promise<string> {
    const partial = `${req.dest}.partial`;
    await mkdir(dirname(req.dest), { recursive: true });
    let offset = await fileSize(partial);
    if (req.size !== undefined && offset > req.size) {
      await rm(partial, { force: true });
      offset = 0;
    }
    const headers: Record<string, string> = { ...this.deps.headers };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    let res: Response;
    try {
      res = await this.fetchImpl(req.url, { headers, signal });
    } catch (err) {
      throw interrupted(req.url, err, signal);
    }
    if (res.status === 416 && offset > 0) {
      // The partial file is complete (or the server cannot resume it): start over once.
      await res.body?.cancel();
      await rm(partial, { force: true });
      return this.run(req, signal, progress);
    }
    if (res.status === 404) {
      await res.body?.cancel();
      throw new DownloadError('not_found', `not found: ${req.url} (404)`);
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw new DownloadError('http_error', `GET ${req.url}: HTTP ${res.status}`);
    }
    if (res.status === 200) offset = 0; // the server ignored Range: whole file again
    const length = Number(res.headers.get('content-length') ?? Number.NaN);
    const totalBytes = req.size ?? (Number.isFinite(length) ? offset + length : undefined);
    if (totalBytes !== undefined) {
      const free = await this.freeDisk(dirname(req.dest));
      if (free < totalBytes - offset) {
        await res.body?.cancel();
        throw new DownloadError(
          'disk_full',
          `not enough disk for ${req.dest}: needs ${totalBytes - offset} bytes, ${free} free`,
        );
      }
    }
    const hash = createHash('sha256');
    if (offset > 0) await hashFile(partial, hash);
    const out = createWriteStream(partial, { flags: offset > 0 ? 'a' : 'w' });
    let writeError: Error | undefined;
    out.on('error', (e) => {
      writeError = e;
      out.emit('drain');
    });
    let received = offset;
    progress({ receivedBytes: received, totalBytes, resumedFromBytes: offset });
    try {
      if (!res.body) throw new DownloadError('interrupted', `GET ${req.url}: empty body`);
      for await (const chunk of res.body) {
        hash.update(chunk);
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        if (writeError) throw writeError;
        received += chunk.byteLength;
        progress({ receivedBytes: received, totalBytes, resumedFromBytes: offset });
      }
      await closeStream(out);
      if (writeError) throw writeError;
    } catch (err) {
      if (!out.closed) {
        out.destroy();
        await new Promise<void>((r) => out.once('close', () => r()));
      }
      if (err instanceof DownloadError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new DownloadError('disk_full', `disk full while writing ${partial}`, { cause: err });
      }
      // Keep the partial file: the next pull resumes from it.
      throw interrupted(req.url, err, signal, received);
    }
    if (totalBytes !== undefined && received !== totalBytes) {
      if (received > totalBytes) await rm(partial, { force: true });
      throw new DownloadError(
        received < totalBytes ? 'interrupted' : 'size_mismatch',
        `${req.url}: got ${received} of ${totalBytes} bytes`,
      );
    }
    const digest = hash.digest('hex');
    if (req.sha256 && digest !== req.sha256) {
      await rm(partial, { force: true });
      throw new DownloadError(
        'checksum_mismatch',
        `sha256 mismatch for ${req.url}: expected ${req.sha256}, got ${digest}; the file was deleted`,
      );
    }
    await rename(partial, req.dest);
    return req.dest;
  }
}

function interrupted(url: string, err: unknown, signal: AbortSignal, at?: number): DownloadError {
  if (signal.aborted) return new DownloadError('aborted', `download of ${url} aborted`);
  const where = at === undefined ? '' : ` after ${at} bytes (run the pull again to resume)`;
  const why = err instanceof Error ? err.message : String(err);
  return new DownloadError('interrupted', `download of ${url} interrupted${where}: ${why}`, {
    cause: err,
  });
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFile(path, hash);
  return hash.digest('hex');
}

function closeStream(out: ReturnType<typeof createWriteStream>): Promise<void> {
  return new Promise((resolve, reject) => {
    out.once('error', reject);
    out.end(() => resolve());
  });
}
