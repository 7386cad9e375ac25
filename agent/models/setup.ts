// Builds the model stack for `agent start --catalog`: catalog, llama.cpp loader, manager, downloader, admin routes.
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import type { AgentConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { createModelAdminApp } from './admin.ts';
import { ModelCatalog } from './catalog.ts';
import { Downloader } from './download.ts';
import { LlamaLoader } from './llama-loader.ts';
import type { ModelManagerOptions } from './manager.ts';
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
    sequences: config.maxConcurrentJobs,
    threads: config.threads,
  });
  const manager = new ModelManager({
    catalog,
    load: loader.load,
    estimate: async (v) => (await loader.estimate(v)).totalBytes,
    freeMemory: () => loader.freeMemory(),
    // MODEL_MEMORY_LIMIT, else the agent's MEMORY_LIMIT: models never take more than the agent offers.
    memoryLimitBytes: config.modelMemoryLimit ?? config.memoryLimitBytes,
    platform: loader.platform,
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
