// Loads catalog variants into llama.cpp engines sharing one Llama, and measures what each load really took.
import { readFile } from 'node:fs/promises';
import { arch, availableParallelism, freemem } from 'node:os';
import type { Llama } from 'node-llama-cpp';
import { importEmbeddedEngine, importNodeLlamaCpp } from '../engines/embedded-module.ts';
import type { CatalogVariant } from './catalog.ts';
import {
  cpuRepackFor,
  estimateMemory,
  type MemoryEstimate,
  readGgufHeader,
} from './gguf-estimate.ts';
import type { LoadedModel } from './manager.ts';
import type { Platform } from './quant.ts';

export interface LlamaLoaderOptions {
  contextSizePerSequence: number;
  /** Context sequences: the slots and those kept as prompt cache. */
  sequences: number;
  /** Jobs at once (default `sequences`). */
  slots?: number | undefined;
  threads?: number | undefined;
  gpu?: 'auto' | false;
}

export interface LoadMeasurement {
  rssBytes: number;
  vramBytes: number;
}

export class LlamaLoader {
  private constructor(
    readonly llama: Llama,
    private readonly opts: LlamaLoaderOptions,
  ) {}

  static async create(opts: LlamaLoaderOptions): Promise<LlamaLoader> {
    const { getLlama, LlamaLogLevel } = await importNodeLlamaCpp({ install: true });
    const llama = await getLlama({
      gpu: opts.gpu ?? 'auto',
      build: 'never',
      skipDownload: true,
      progressLogs: false,
      logLevel: LlamaLogLevel.error,
      maxThreads: opts.threads ?? availableParallelism(),
    });
    return new LlamaLoader(llama, opts);
  }

  get onGpu(): boolean {
    return this.llama.gpu !== false;
  }

  get platform(): Platform {
    return { arch: arch(), cpuOnly: !this.onGpu };
  }

  /** Header-only estimate for this agent's context size and slots. */
  async estimate(variant: CatalogVariant): Promise<MemoryEstimate> {
    const header = await readGgufHeader(variant.localPath);
    return estimateMemory(header, {
      contextSize: this.opts.contextSizePerSequence,
      sequences: this.opts.sequences,
      cpuRepack: this.onGpu ? false : cpuRepackFor(arch()),
    });
  }

  /** Free RAM (CPU) or VRAM (GPU) the models may use. */
  async freeMemory(): Promise<number> {
    if (this.onGpu) return (await this.llama.getVramState()).free;
    return memAvailable();
  }

  /**
   * Loads a variant as its own engine (model + context with one sequence per job) and measures
   * the process RSS and VRAM it added. Loads are serialised by the manager, so deltas don't mix.
   */
  load = async (variant: CatalogVariant): Promise<LoadedModel & { measured: LoadMeasurement }> => {
    const rss0 = process.memoryUsage().rss;
    const vram0 = this.onGpu ? (await this.llama.getVramState()).used : 0;
    const { LlamaCppEngine } = await importEmbeddedEngine();
    const engine = await LlamaCppEngine.create({
      modelPath: variant.localPath,
      modelName: variant.tag,
      sequences: this.opts.sequences,
      ...(this.opts.slots ? { slots: this.opts.slots } : {}),
      contextSizePerSequence: this.opts.contextSizePerSequence,
      ...(this.opts.threads ? { threads: this.opts.threads } : {}),
      llama: this.llama,
    });
    const measured = {
      rssBytes: Math.max(0, process.memoryUsage().rss - rss0),
      vramBytes: this.onGpu ? Math.max(0, (await this.llama.getVramState()).used - vram0) : 0,
    };
    return { engine, measuredBytes: measured.rssBytes + measured.vramBytes, measured };
  };

  close(): Promise<void> {
    return this.llama.dispose();
  }
}

/** MemAvailable from /proc/meminfo (what Linux can hand out without swapping), else os.freemem(). */
export async function memAvailable(): Promise<number> {
  try {
    const text = await readFile('/proc/meminfo', 'utf8');
    const kb = /^MemAvailable:\s+(\d+) kB/m.exec(text)?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {}
  return freemem();
}
