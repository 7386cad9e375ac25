// Ollama pulls by quantization tag against a loopback server speaking Ollama's /api/pull NDJSON; /api/ps sizes.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  huggingFaceTag,
  type OllamaPullProgress,
  ollamaLoadedModels,
  pullWithOllama,
} from '../../../../agent/models/ollama-pull.ts';

let server: Server | undefined;
const bodies: Record<string, unknown>[] = [];

async function fakeOllama(route: (path: string, res: ServerResponse) => void): Promise<string> {
  const created = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      if (raw) bodies.push(JSON.parse(raw));
      route(`${req.method} ${req.url}`, res);
    });
  });
  server = created;
  await new Promise<void>((r) => created.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(created.address() as AddressInfo).port}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
  bodies.length = 0;
});

const digest = `sha256:${'ab'.repeat(32)}`;
/** The lines a real `ollama pull` streams, in order. */
const PULL_LINES = [
  { status: 'pulling manifest' },
  { status: `pulling ${digest.slice(7, 19)}`, digest, total: 1000 },
  { status: `pulling ${digest.slice(7, 19)}`, digest, total: 1000, completed: 400 },
  { status: `pulling ${digest.slice(7, 19)}`, digest, total: 1000, completed: 1000 },
  { status: 'verifying sha256 digest' },
  { status: 'writing manifest' },
  { status: 'success' },
];

function ndjson(res: ServerResponse, lines: unknown[], end = true) {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  for (const l of lines) res.write(`${JSON.stringify(l)}\n`);
  if (end) res.end();
  else setTimeout(() => res.socket?.destroy(), 10);
}

describe('pullWithOllama', () => {
  it('pulls a Hugging Face quant tag with streamed progress', async () => {
    const host = await fakeOllama((path, res) => {
      expect(path).toBe('POST /api/pull');
      ndjson(res, PULL_LINES);
    });
    const tag = huggingFaceTag('bartowski/SmolLM2-135M-Instruct-GGUF', 'Q4_K_M');
    expect(tag).toBe('hf.co/bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M');
    const seen: OllamaPullProgress[] = [];
    await pullWithOllama(tag, { host, onProgress: (p) => seen.push(p) });
    // ollama-js sends the model as `name` (Ollama accepts `name` and `model`).
    expect(bodies[0]).toMatchObject({ name: tag, stream: true });
    expect(seen.map((p) => p.status)).toEqual(PULL_LINES.map((l) => l.status));
    expect(seen.filter((p) => p.completed !== undefined).map((p) => p.completed)).toEqual([
      400, 1000,
    ]);
    expect(seen[1]).toEqual({ status: PULL_LINES[1]?.status, digest, total: 1000 });
  });

  it("rejects with Ollama's own error line", async () => {
    const host = await fakeOllama((_p, res) =>
      ndjson(res, [
        { status: 'pulling manifest' },
        { error: 'pull model manifest: file does not exist' },
      ]),
    );
    await expect(pullWithOllama('smollm2:135m-instruct-q9_9', { host })).rejects.toThrow(
      /smollm2:135m-instruct-q9_9.*file does not exist/,
    );
  });

  it('rejects a stream that stops before success', async () => {
    const host = await fakeOllama((_p, res) => ndjson(res, PULL_LINES.slice(0, 3), false));
    await expect(pullWithOllama('smollm2:135m', { host })).rejects.toThrow(/smollm2:135m/);
  });

  it('aborts only its own stream', async () => {
    const host = await fakeOllama((_p, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify(PULL_LINES[0])}\n`); // then hangs
    });
    const ac = new AbortController();
    const pulling = pullWithOllama('smollm2:135m', {
      host,
      signal: ac.signal,
      onProgress: () => ac.abort(),
    });
    await expect(pulling).rejects.toThrow(/aborted/);
  });
});

describe('ollamaLoadedModels', () => {
  it("reads Ollama's measured size and VRAM per loaded model from /api/ps", async () => {
    const host = await fakeOllama((path, res) => {
      expect(path).toBe('GET /api/ps');
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          models: [
            {
              name: 'smollm2:135m',
              model: 'smollm2:135m',
              size: 270_000_000,
              size_vram: 0,
              digest,
              details: {},
              expires_at: '2026-11-26T21:00:00Z',
            },
          ],
        }),
      );
    });
    expect(await ollamaLoadedModels(host)).toEqual([
      { name: 'smollm2:135m', sizeBytes: 270_000_000, vramBytes: 0 },
    ]);
  });
});
