// Loopback HTTP file server for model tests: Range requests, 404s, cut-off bodies, request log.
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedFile {
  /** Bytes in memory, or a file on disk. */
  body?: Buffer;
  path?: string;
}

export interface FileServer {
  url: string;
  requests: { path: string; headers: IncomingHttpHeaders }[];
  /** Next GET of `path` sends only this many bytes, then drops the connection. */
  cutNext(path: string, afterBytes: number): void;
  /** Holds responses until release() (to make concurrent requests overlap). */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export async function startFileServer(files: Record<string, ServedFile>): Promise<FileServer> {
  const requests: FileServer['requests'] = [];
  const cuts = new Map<string, number>();
  let held: (() => void)[] | undefined;
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    requests.push({ path, headers: req.headers });
    const respond = () => {
      const file = files[path];
      if (!file) {
        res.writeHead(404).end('not found');
        return;
      }
      const size = file.body ? file.body.length : statSync(file.path ?? '').size;
      let start = 0;
      let end = size - 1;
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (range) {
        start = Number(range[1]);
        if (range[2]) end = Math.min(Number(range[2]), size - 1);
        if (start >= size) {
          res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
          return;
        }
      }
      const length = end - start + 1;
      res.writeHead(range ? 206 : 200, {
        'content-length': String(length),
        'accept-ranges': 'bytes',
        ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
      });
      const cut = cuts.get(path);
      if (cut !== undefined) {
        cuts.delete(path);
        const part = file.body ? file.body.subarray(start, start + cut) : Buffer.alloc(0);
        res.write(part, () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      if (file.body) res.end(file.body.subarray(start, end + 1));
      else createReadStream(file.path ?? '', { start, end }).pipe(res);
    };
    if (held) held.push(respond);
    else respond();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cutNext: (path, afterBytes) => cuts.set(path, afterBytes),
    hold: () => {
      held = [];
    },
    release: () => {
      const pending = held ?? [];
      held = undefined;
      for (const r of pending) r();
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
