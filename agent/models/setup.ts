// Builds the model stack for `agent start --catalog`: catalog, llama.cpp loader, manager, downloader, admin routes.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import { type AgentConfig, contextSequences } from '../config.ts';
import type { Logger } from '../log.ts';
import { createModelAdminApp } from './admin.ts';
import { type CatalogVariant, ModelCatalog } from './catalog.ts';
import { Downloader } from './download.ts';
import { LlamaLoader } from './llama-loader.ts';
import type { LoadedModel, ModelManagerOptions } from './manager.ts';
import { ModelManager } from './manager.ts';

/** The catalog shipped with the agent: the demo model's quantized variants. */
export const BUNDLED_CATALOG = fileURLToPath(new URL('./smollm2.catalog.json', import.meta.url));

export interface ModelStack {
  manager: ModelManager;
  downloader: Downloader;
  admin: Hono;
}

/** Whether this agent runs the catalog-driven model manager (embedded engine with MODEL_CATALOG). */
export function usesModelManager(config: AgentConfig): boolean {
  return Boolean(config.catalog) && config.engine !== 'ollama' && !config.ollamaHost;
}

export async function loadCatalog(
  config: Pick<AgentConfig, 'catalog' | 'modelBaseUrl'> & { modelsDir: string },
) {
  if (!config.catalog) throw new Error('no model catalog configured (--catalog or MODEL_CATALOG)');
  return ModelCatalog.load(config.catalog, {
    modelsDir: config.modelsDir,
    baseUrl: config.modelBaseUrl,
  });
}

export async function createModelStack(
  config: AgentConfig,
  log: Logger,
  timings?: ModelManagerOptions['timings'],
): Promise<ModelStack> {
  if (!config.modelsDir) throw new Error('a model catalog needs a models folder (--models-dir)');
  const catalog = await loadCatalog({ ...config, modelsDir: config.modelsDir });
  const loader = await LlamaLoader.create({
    contextSizePerSequence: config.contextSize ?? 2048,
    sequences: contextSequences(config),
    slots: config.maxConcurrentJobs,
    threads: config.threads,
  });
  const manager = new ModelManager({
    catalog,
    // ENGINE=llama-server: the chosen variant's file runs in its own llama-server child (ADR 0019);
    // the choice, the estimate and the LRU are the manager's, as for the embedded engine.
    load: config.engine === 'llama-server' ? llamaServerLoader(config, log) : loader.load,
    estimate: async (v) => (await loader.estimate(v)).totalBytes,
    freeMemory: () => loader.freeMemory(),
    // MODEL_MEMORY_LIMIT, else the agent's MEMORY_LIMIT: models never take more than the agent offers.
    memoryLimitBytes: config.modelMemoryLimit ?? config.memoryLimitBytes,
    platform: loader.platform,
    // The embedded engine keeps CACHE_SEQUENCES per model; a llama-server child keeps its slots.
    ...(config.engine === 'llama-server' ? {} : { cachedSequences: contextSequences(config) }),
    log,
    onClose: () => loader.close(),
    ...(timings ? { timings } : {}),
  });
  await manager.refresh();
  const downloader = new Downloader();
  const admin = createModelAdminApp({
    manager,
    downloader,
    adminKey: config.adminKey,
    mirror: config.modelBaseUrl !== undefined,
  });
  return { manager, downloader, admin };
}

/** Loads a variant by starting llama-server on its file; unloading it (close) stops the child. */
function llamaServerLoader(config: AgentConfig, log: Logger) {
  return async (variant: CatalogVariant): Promise<LoadedModel> => {
    const { findLlamaServer } = await import('../engines/llama-server-process.ts');
    const { selectEngine } = await import('../engines/select.ts');
    const binary = findLlamaServer(config.llamaServer);
    const engine = await selectEngine({
      engine: 'llama-server',
      ...(binary ? { llamaServer: binary } : {}),
      modelPath: variant.localPath,
      models: [variant.tag],
      maxConcurrentJobs: config.maxConcurrentJobs,
      contextSizePerSequence: config.contextSize ?? 2048,
      ...(config.threads ? { threads: config.threads } : {}),
      log,
    });
    const pid = (engine as { server?: { pid?: number } }).server?.pid;
    return { engine, measuredBytes: pid ? rssOf(pid) : undefined };
  };
}

/** A process's resident memory (VmRSS), bytes; undefined where /proc cannot tell. */
function rssOf(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
