// Model manager: several GGUF variants per agent, loaded on demand, least-recently-used unloaded when memory is short.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { AgentModel } from '../../protocol/agent-api.ts';
import {
  type EmbedRequest,
  type EmbedResult,
  EngineError,
  type GenerateChunk,
  type GenerateOptions,
  type GenerateRequest,
  type InferenceEngine,
  modelNotServed,
} from '../engines/engine.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { CatalogModel, CatalogVariant, ModelCatalog } from './catalog.ts';
import { type Platform, quantByName } from './quant.ts';
import { type Candidate, memoryBudget, type Selection, selectVariant } from './select.ts';

export interface LoadedModel {
  engine: InferenceEngine;
  /** What loading really took (process RSS delta + VRAM delta), when measured. */
  measuredBytes: number | undefined;
}

export type ModelLoader = (variant: CatalogVariant) => Promise<LoadedModel>;

export interface ModelManagerOptions {
  catalog: ModelCatalog;
  load: ModelLoader;
  /** Estimated bytes once loaded (header only), for this agent's context size and slots. */
  estimate: (variant: CatalogVariant) => Promise<number>;
  /** Free memory the models may use: RAM on CPU agents, VRAM on GPU agents. */
  freeMemory: () => Promise<number>;
  /** Upper bound on all loaded models together (MODEL_MEMORY_LIMIT); default: none. */
  memoryLimitBytes?: number | undefined;
  safetyMargin?: number;
  platform?: Platform;
  kind?: string;
  clock?: () => number;
  log?: Logger;
  /** Prompts a loaded model keeps in its KV cache, running jobs included (CACHE_SEQUENCES). */
  cachedSequences?: number;
  /** Runs after every model is unloaded on close (e.g. disposes the shared Llama). */
  onClose?: () => Promise<void>;
  /** Told how long each load and unload took (the agent's metrics). */
  timings?: {
    modelLoaded(model: string, seconds: number): void;
    modelUnloaded(model: string, seconds: number): void;
  };
}

interface Slot {
  variant: CatalogVariant;
  estimateBytes: number | undefined;
  loaded: (LoadedModel & { lastUsed: number; inUse: number }) | undefined;
}

/** What `models ls` shows for one variant. */
export interface VariantStatus {
  tag: string;
  quant: string;
  present: boolean;
  loaded: boolean;
  estimateBytes: number | undefined;
  measuredBytes: number | undefined;
  path: string;
  url: string | undefined;
}

export class ModelManager implements InferenceEngine {
  readonly kind: string;
  private readonly slots = new Map<string, Slot>();
  private loadChain: Promise<unknown> = Promise.resolve();
  private readonly clock: () => number;
  private readonly log: Logger;

  constructor(private readonly opts: ModelManagerOptions) {
    this.kind = opts.kind ?? 'llama-cpp';
    this.clock = opts.clock ?? Date.now;
    this.log = opts.log ?? silentLogger;
    for (const m of opts.catalog.models) {
      for (const v of m.variants)
        this.slots.set(v.tag, { variant: v, estimateBytes: undefined, loaded: undefined });
    }
  }

  get cachedSequences(): number | undefined {
    return this.opts.cachedSequences;
  }

  get catalog(): ModelCatalog {
    return this.opts.catalog;
  }

  /** Estimates every variant on disk that has none yet (header reads only). */
  async refresh(): Promise<void> {
    for (const slot of this.slots.values()) {
      if (!existsSync(slot.variant.localPath)) {
        if (!slot.loaded) slot.estimateBytes = undefined;
        continue;
      }
      if (slot.estimateBytes !== undefined) continue;
      try {
        slot.estimateBytes = await this.opts.estimate(slot.variant);
      } catch (err) {
        this.log.warn('cannot estimate model memory', {
          model: slot.variant.tag,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  /** Loaded models count at the larger of estimate and measurement (buffers grow in use). */
  private loadedBytes(): number {
    let sum = 0;
    for (const s of this.slots.values()) {
      if (s.loaded) sum += Math.max(s.estimateBytes ?? 0, s.loaded.measuredBytes ?? 0);
    }
    return sum;
  }

  /** Memory models may occupy in total: what is free plus what loaded models hold. */
  async modelMemoryBytes(): Promise<number> {
    const total = (await this.opts.freeMemory()) + this.loadedBytes();
    return Math.min(total, this.opts.memoryLimitBytes ?? Number.POSITIVE_INFINITY);
  }

  /** Best variant of `model` on disk that fits (or the pinned one, if it fits). */
  async choose(model: CatalogModel, pin?: CatalogVariant): Promise<Selection> {
    const candidates: Candidate[] = [];
    for (const v of model.variants) {
      const slot = this.slots.get(v.tag);
      const quant = quantByName(v.quant);
      const bytes = slot && memoryOf(slot);
      if (quant && bytes !== undefined) candidates.push({ tag: v.tag, quant, memoryBytes: bytes });
    }
    return selectVariant(candidates, {
      availableBytes: await this.modelMemoryBytes(),
      ...(this.opts.safetyMargin !== undefined ? { safetyMargin: this.opts.safetyMargin } : {}),
      ...(this.opts.platform ? { platform: this.opts.platform } : {}),
      ...(pin ? { pin: pin.quant } : {}),
    });
  }

  /**
   * The advertisement: per model, its base name and aliases (meaning the chosen variant), and one
   * `<model>-<quant>` entry per variant on disk that fits. memoryBytes is the estimate, or the
   * measurement once loaded.
   */
  async listModels(): Promise<AgentModel[]> {
    await this.refresh();
    const out: AgentModel[] = [];
    for (const model of this.opts.catalog.models) {
      const sel = await this.choose(model);
      const chosen = sel.chosen && this.slots.get(sel.chosen.tag);
      if (chosen) {
        for (const name of [model.name, ...model.aliases]) out.push(entry(name, chosen));
      }
      for (const c of sel.considered) {
        const slot = this.slots.get(c.tag);
        if (slot && (c.fits || slot.loaded)) out.push(entry(c.tag, slot));
      }
    }
    return out;
  }

  status(): VariantStatus[] {
    return [...this.slots.values()].map((s) => ({
      tag: s.variant.tag,
      quant: s.variant.quant,
      present: existsSync(s.variant.localPath),
      loaded: Boolean(s.loaded),
      estimateBytes: s.estimateBytes,
      measuredBytes: s.loaded?.measuredBytes,
      path: s.variant.localPath,
      url: s.variant.url,
    }));
  }

  /** The variant a request's model name means here (pinned, or the best that fits). */
  async resolve(name: string): Promise<CatalogVariant> {
    const hit = this.opts.catalog.resolve(name);
    if (!hit) throw modelNotServed(name);
    await this.refresh();
    const sel = await this.choose(hit.model, hit.pin);
    const tag = sel.chosen?.tag;
    const slot = tag ? this.slots.get(tag) : undefined;
    if (slot) return slot.variant;
    const why = sel.considered.find((c) => !hit.pin || c.tag === hit.pin.tag)?.reason;
    throw new EngineError(
      'model_not_found',
      `model '${name}': no variant on disk fits here${why ? ` (${why})` : ''}`,
    );
  }

  async *generate(req: GenerateRequest, opts: GenerateOptions): AsyncGenerator<GenerateChunk> {
    const { loaded, tag } = await this.use(req.model);
    try {
      yield* loaded.engine.generate({ ...req, model: tag }, opts);
    } finally {
      this.done(loaded);
    }
  }

  async embed(req: EmbedRequest, opts: GenerateOptions): Promise<EmbedResult> {
    const { loaded, tag } = await this.use(req.model);
    try {
      if (!loaded.engine.embed) {
        throw new EngineError('invalid_request', `model '${req.model}' does not serve embeddings`);
      }
      return await loaded.engine.embed({ ...req, model: tag }, opts);
    } finally {
      this.done(loaded);
    }
  }

  /** The loaded engine for `model`, marked in use until done() is called. */
  private async use(model: string) {
    const variant = await this.resolve(model);
    // Marked in use in the same tick it is seen loaded; a concurrent load may evict it between
    // ensureLoaded() resolving and here, so look again (twice at most).
    let loaded: Slot['loaded'];
    for (let attempt = 0; attempt < 3 && !loaded; attempt++) {
      loaded = (await this.ensureLoaded(variant.tag)).loaded;
    }
    if (!loaded) throw new EngineError('engine_unavailable', `${variant.tag} keeps being unloaded`);
    loaded.inUse++;
    loaded.lastUsed = this.clock();
    return { loaded, tag: variant.tag };
  }

  private done(loaded: NonNullable<Slot['loaded']>): void {
    loaded.inUse--;
    loaded.lastUsed = this.clock();
  }

  /** Loads a variant (once, even when asked concurrently), unloading idle LRU models to make room. */
  ensureLoaded(tag: string): Promise<Slot> {
    const slot = this.slots.get(tag);
    if (!slot) return Promise.reject(new EngineError('model_not_found', `unknown model '${tag}'`));
    if (slot.loaded) return Promise.resolve(slot);
    const run = this.loadChain.then(() => this.loadNow(slot));
    this.loadChain = run.catch(() => {});
    return run;
  }

  private async loadNow(slot: Slot): Promise<Slot> {
    if (slot.loaded) return slot;
    if (!existsSync(slot.variant.localPath)) {
      throw new EngineError(
        'model_not_found',
        `${slot.variant.tag} is not on disk (pull it first)`,
      );
    }
    await this.refresh();
    const need = slot.estimateBytes ?? 0;
    for (;;) {
      const free = await this.freeForLoad();
      if (need <= free) break;
      const victim = this.leastRecentlyUsedIdle();
      if (!victim) {
        throw new EngineError(
          'engine_unavailable',
          `${slot.variant.tag} needs ${mib(need)}; ${mib(free)} free and every loaded model is busy`,
        );
      }
      this.log.info('unloading least recently used model', {
        model: victim.variant.tag,
        for: slot.variant.tag,
      });
      await this.unloadSlot(victim);
    }
    const started = performance.now();
    const loaded = await this.opts.load(slot.variant);
    this.opts.timings?.modelLoaded(slot.variant.tag, (performance.now() - started) / 1000);
    slot.loaded = { ...loaded, lastUsed: this.clock(), inUse: 0 };
    this.log.info('model loaded', {
      model: slot.variant.tag,
      estimateMiB: Math.round(need / 2 ** 20),
      measuredMiB:
        loaded.measuredBytes === undefined ? null : Math.round(loaded.measuredBytes / 2 ** 20),
    });
    return slot;
  }

  private async freeForLoad(): Promise<number> {
    const system = memoryBudget(await this.opts.freeMemory(), {
      ...(this.opts.safetyMargin !== undefined ? { safetyMargin: this.opts.safetyMargin } : {}),
    });
    const limit = this.opts.memoryLimitBytes;
    return limit === undefined ? system : Math.min(system, limit - this.loadedBytes());
  }

  private leastRecentlyUsedIdle(): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots.values()) {
      if (!s.loaded || s.loaded.inUse > 0) continue;
      if (!best?.loaded || s.loaded.lastUsed < best.loaded.lastUsed) best = s;
    }
    return best;
  }

  private async unloadSlot(slot: Slot): Promise<void> {
    const loaded = slot.loaded;
    if (!loaded) return;
    slot.loaded = undefined;
    const started = performance.now();
    await loaded.engine.close();
    this.opts.timings?.modelUnloaded(slot.variant.tag, (performance.now() - started) / 1000);
  }

  /** Unloads a model now; refuses while it serves a request. */
  async unload(tag: string): Promise<boolean> {
    const slot = this.slots.get(tag);
    if (!slot?.loaded) return false;
    if (slot.loaded.inUse > 0)
      throw new EngineError('engine_unavailable', `${tag} is serving requests`);
    await this.unloadSlot(slot);
    return true;
  }

  /** Unloads and deletes a variant's file. */
  async remove(tag: string): Promise<boolean> {
    const slot = this.slots.get(tag);
    if (!slot) throw new EngineError('model_not_found', `unknown model '${tag}'`);
    await this.unload(tag);
    const existed = existsSync(slot.variant.localPath);
    await rm(slot.variant.localPath, { force: true });
    await rm(`${slot.variant.localPath}.partial`, { force: true });
    slot.estimateBytes = undefined;
    return existed;
  }

  /** Forgets a cached estimate (after a pull replaced the file). */
  invalidate(tag: string): void {
    const slot = this.slots.get(tag);
    if (slot && !slot.loaded) slot.estimateBytes = undefined;
  }

  loadedTags(): string[] {
    return [...this.slots.values()].filter((s) => s.loaded).map((s) => s.variant.tag);
  }

  async close(): Promise<void> {
    await this.loadChain;
    for (const s of this.slots.values()) await this.unloadSlot(s);
    await this.opts.onClose?.();
  }
}

function memoryOf(slot: Slot): number | undefined {
  return slot.loaded?.measuredBytes ?? slot.estimateBytes;
}

function entry(name: string, slot: Slot): AgentModel {
  const bytes = memoryOf(slot);
  return {
    name,
    loaded: Boolean(slot.loaded),
    ...(bytes !== undefined ? { memoryBytes: Math.round(bytes) } : {}),
    quantization: slot.variant.quant,
  };
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}
