// `agent models ls|pull|rm`: on the local catalog and models directory, or through a running agent's /admin.
import { existsSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ndjsonLines } from '../protocol/framing.ts';
import { useEmbeddedEngineHome } from './engines/embedded-module.ts';
import type { PullEvent } from './models/admin.ts';
import { DownloadError, Downloader } from './models/download.ts';
import { cpuRepackFor, estimateMemory, readGgufHeader } from './models/gguf-estimate.ts';
import { pullVariant } from './models/pull.ts';
import { BUNDLED_CATALOG, loadCatalog } from './models/setup.ts';
import { dataPaths, operatorPath, type PathContext } from './paths.ts';
import { packageVersion } from './version.ts';

export const MODELS_USAGE = `Usage: agent models <ls|pull|rm> [name] [options]

  ls                 variants in the catalog: on disk?, size, estimated memory
  pull <name>-<q>    download one variant (resumes, verifies sha256), e.g. smollm2:135m-instruct-q8_0
  rm <name>-<q>      delete one variant's file

Options (environment variable in brackets):
  --catalog <file>         model catalog JSON [MODEL_CATALOG] (default: the bundled
                           agent/models/smollm2.catalog.json)
  --data-dir <dir>         the agent's data folder [AGENT_DATA_DIR]
  --models-dir <dir>       [MODELS_DIR] (default <data-dir>/models)
  --model-base-url <url>   Hugging Face-compatible mirror [MODEL_BASE_URL]
  --context-size <n>       for estimates [CONTEXT_SIZE] (default 2048)
  --max-concurrent-jobs <n> for estimates [MAX_CONCURRENT_JOBS] (default 4)
  --cache-sequences <n>    for estimates, if more [CACHE_SEQUENCES]
  --agent <url>            act through a running agent's /admin endpoint instead [AGENT_URL]
  --admin-key <key>        [AGENT_ADMIN_KEY]

Relative paths are read against the current folder.
`;

const OPTIONS = {
  catalog: { type: 'string' },
  'models-dir': { type: 'string' },
  'data-dir': { type: 'string' },
  'model-base-url': { type: 'string' },
  'context-size': { type: 'string' },
  'max-concurrent-jobs': { type: 'string' },
  'cache-sequences': { type: 'string' },
  agent: { type: 'string' },
  'admin-key': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

export interface ModelsCliIo extends PathContext {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Progress redraws in place on a terminal. */
  tty: boolean;
  fetch?: typeof fetch;
}

export async function modelsMain(argv: string[], io: ModelsCliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`agent models: ${(err as Error).message}\n\n${MODELS_USAGE}`);
    return 2;
  }
  const v = parsed.values;
  const [command, name, ...extra] = parsed.positionals;
  if (v.version) {
    io.out(`agent ${packageVersion()}\n`);
    return 0;
  }
  if (v.help || !command) {
    io.out(MODELS_USAGE);
    return 0;
  }
  const needsName = command === 'pull' || command === 'rm';
  if (!['ls', 'pull', 'rm'].includes(command) || (needsName && !name) || extra.length > 0) {
    io.err(`agent models: bad command '${parsed.positionals.join(' ')}'\n\n${MODELS_USAGE}`);
    return 2;
  }
  const env = (flag: string | undefined, key: string) => flag ?? (io.env[key] || undefined);
  const agent = env(v.agent, 'AGENT_URL');
  const adminKey = env(v['admin-key'], 'AGENT_ADMIN_KEY');
  try {
    if (agent) return await remote(command, name, agent.replace(/\/+$/, ''), adminKey, io);
    const paths = dataPaths(io, {
      dataDir: env(v['data-dir'], 'AGENT_DATA_DIR'),
      modelsDir: env(v['models-dir'], 'MODELS_DIR'),
    });
    // GGUF headers are read through node-llama-cpp, which may live in the data folder.
    useEmbeddedEngineHome({ dataDir: paths.dataDir, install: false });
    const catalog = await loadCatalog({
      catalog: operatorPath(io, env(v.catalog, 'MODEL_CATALOG')) ?? BUNDLED_CATALOG,
      modelsDir: paths.modelsDir,
      modelBaseUrl: env(v['model-base-url'], 'MODEL_BASE_URL'),
    });
    if (command === 'ls') {
      const ctx = Number(env(v['context-size'], 'CONTEXT_SIZE') ?? 2048);
      const seqs = Math.max(
        Number(env(v['max-concurrent-jobs'], 'MAX_CONCURRENT_JOBS') ?? 4),
        Number(env(v['cache-sequences'], 'CACHE_SEQUENCES') ?? 0),
      );
      io.out(
        `${pad('NAME', 34)}${pad('ON DISK', 9)}${pad('SIZE', 11)}ESTIMATE (CPU, ctx ${ctx} × ${seqs})\n`,
      );
      for (const m of catalog.models) {
        for (const variant of m.variants) {
          const here = existsSync(variant.localPath);
          const size = here ? statSync(variant.localPath).size : variant.size;
          const est = here
            ? estimateMemory(await readGgufHeader(variant.localPath), {
                contextSize: ctx,
                sequences: seqs,
                cpuRepack: cpuRepackFor(process.arch),
              }).totalBytes
            : undefined;
          io.out(
            `${pad(variant.tag, 34)}${pad(here ? 'yes' : 'no', 9)}${pad(mib(size), 11)}${mib(est)}\n`,
          );
        }
      }
      return 0;
    }
    const variant = catalog.resolve(name ?? '')?.pin;
    if (!variant) {
      io.err(`agent models: '${name}' names no variant in the catalog (try agent models ls)\n`);
      return 1;
    }
    if (command === 'rm') {
      const existed = existsSync(variant.localPath);
      await rm(variant.localPath, { force: true });
      await rm(`${variant.localPath}.partial`, { force: true });
      io.out(existed ? `removed ${variant.localPath}\n` : `${variant.tag} was not on disk\n`);
      return 0;
    }
    const bar = progressBar(io);
    const path = await pullVariant(new Downloader(io.fetch ? { fetch: io.fetch } : {}), variant, {
      onProgress: (p) => bar(p.receivedBytes, p.totalBytes),
      preferUrl: env(v['model-base-url'], 'MODEL_BASE_URL') !== undefined,
    });
    io.out(`pulled ${variant.tag} → ${path}\n`);
    return 0;
  } catch (err) {
    const code = err instanceof DownloadError ? ` (${err.code})` : '';
    io.err(`agent models ${command}: ${(err as Error).message}${code}\n`);
    return 1;
  }
}

async function remote(
  command: string,
  name: string | undefined,
  agent: string,
  adminKey: string | undefined,
  io: ModelsCliIo,
): Promise<number> {
  const f = io.fetch ?? fetch;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (adminKey) headers.authorization = `Bearer ${adminKey}`;
  const base = `${agent}/admin/models`;
  const res =
    command === 'ls'
      ? await f(base, { headers })
      : command === 'rm'
        ? await f(`${base}/${encodeURIComponent(name ?? '')}`, { method: 'DELETE', headers })
        : await f(`${base}/pull`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ model: name }),
          });
  if (!res.ok) {
    io.err(`agent models ${command}: ${res.status} ${await res.text()}\n`);
    return 1;
  }
  if (command !== 'pull') {
    io.out(`${JSON.stringify(await res.json(), null, 2)}\n`);
    return 0;
  }
  const bar = progressBar(io);
  let last: PullEvent | undefined;
  for await (const line of ndjsonLines(res.body)) {
    last = JSON.parse(line) as PullEvent;
    if (last.status === 'downloading') bar(last.completed, last.total);
  }
  if (last?.status === 'success') {
    io.out(`pulled ${last.tag} → ${last.path}\n`);
    return 0;
  }
  io.err(
    `agent models pull: ${last?.status === 'error' ? `${last.error} (${last.code})` : 'stream ended early'}\n`,
  );
  return 1;
}

/** `[#######.............]  35%  34.4/98.4 MiB` on a terminal; a line per 10% otherwise. */
function progressBar(io: ModelsCliIo): (done: number, total: number | undefined) => void {
  let lastDecile = -1;
  return (done, total) => {
    const pct = total ? Math.floor((done / total) * 100) : 0;
    const filled = Math.round(pct / 5);
    const text = `[${'#'.repeat(filled)}${'.'.repeat(20 - filled)}] ${String(pct).padStart(3)}%  ${mib(done)}/${mib(total)}`;
    if (io.tty) io.err(`\r${text}${done === total ? '\n' : ''}`);
    else if (Math.floor(pct / 10) !== lastDecile) {
      lastDecile = Math.floor(pct / 10);
      io.err(`${text}\n`);
    }
  };
}

function pad(s: string, n: number): string {
  return s.length >= n ? `${s} ` : s.padEnd(n);
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
