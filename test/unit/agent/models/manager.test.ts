// ModelManager with fake engines: advertisement of base names and variants, load on demand, LRU unload, pins.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GenerateChunk } from '../../../../agent/engines/engine.ts';
import { FakeEngine } from '../../../../agent/engines/fake.ts';
import { type CatalogVariant, ModelCatalog } from '../../../../agent/models/catalog.ts';
import { ModelManager } from '../../../../agent/models/manager.ts';

const MiB = 2 ** 20;
/** Estimated bytes per quant for the fake models. */
const SIZES: Record<string, number> = { Q8_0: 300 * MiB, Q4_K_M: 180 * MiB, Q2_K: 120 * MiB };
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'titan-mgr-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function setup(opts: { limitMiB?: number; freeMiB?: number; present?: string[] } = {}) {
  const catalog = ModelCatalog.fromJson(
    {
      models: {
        'tiny:1b': {
          aliases: ['tiny'],
          variants: Object.fromEntries(
            Object.keys(SIZES).map((q) => [q, { file: `tiny-${q}.gguf` }]),
          ),
        },
        'other:1b': { variants: { Q4_K_M: { file: 'other-Q4_K_M.gguf' } } },
      },
    },
    { dir, modelsDir: dir },
  );
  for (const f of opts.present ?? ['tiny-Q8_0', 'tiny-Q4_K_M', 'tiny-Q2_K', 'other-Q4_K_M']) {
    writeFileSync(join(dir, `${f}.gguf`), 'GGUF');
  }
  const engines = new Map<string, FakeEngine>();
  const loads: string[] = [];
  const timed: string[] = [];
  let now = 0;
  const manager = new ModelManager({
    catalog,
    estimate: async (v: CatalogVariant) => SIZES[v.quant] ?? 0,
    load: async (v) => {
      loads.push(v.tag);
      const engine = new FakeEngine({ models: [v.tag], tokens: [v.tag] });
      engines.set(v.tag, engine);
      return { engine, measuredBytes: (SIZES[v.quant] ?? 0) * 0.9 };
    },
    freeMemory: async () => (opts.freeMiB ?? 100_000) * MiB,
    memoryLimitBytes: opts.limitMiB === undefined ? undefined : opts.limitMiB * MiB,
    safetyMargin: 0,
    clock: () => ++now,
    timings: {
      modelLoaded: (model, seconds) => timed.push(`load ${model} ${seconds >= 0}`),
      modelUnloaded: (model, seconds) => timed.push(`unload ${model} ${seconds >= 0}`),
    },
  });
  return { manager, engines, loads, timed };
}

async function text(manager: ModelManager, model: string): Promise<string> {
  let out = '';
  for await (const c of manager.generate(
    { model, prompt: 'hi' },
    { signal: new AbortController().signal },
  )) {
    if ((c as GenerateChunk).type === 'token') out += (c as { text: string }).text;
  }
  return out;
}

describe('ModelManager', () => {
  it('advertises the base name and aliases as the best variant that fits, plus each fitting variant', async () => {
    const { manager } = setup({ limitMiB: 200 });
    const models = await manager.listModels();
    expect(models).toEqual([
      { name: 'tiny:1b', loaded: false, memoryBytes: 180 * MiB, quantization: 'Q4_K_M' },
      { name: 'tiny', loaded: false, memoryBytes: 180 * MiB, quantization: 'Q4_K_M' },
      { name: 'tiny:1b-q4_k_m', loaded: false, memoryBytes: 180 * MiB, quantization: 'Q4_K_M' },
      { name: 'tiny:1b-q2_k', loaded: false, memoryBytes: 120 * MiB, quantization: 'Q2_K' },
      { name: 'other:1b', loaded: false, memoryBytes: 180 * MiB, quantization: 'Q4_K_M' },
      { name: 'other:1b-q4_k_m', loaded: false, memoryBytes: 180 * MiB, quantization: 'Q4_K_M' },
    ]);
  });

  it('advertises only variants on disk', async () => {
    const { manager } = setup({ present: ['tiny-Q2_K'] });
    expect((await manager.listModels()).map((m) => m.name)).toEqual([
      'tiny:1b',
      'tiny',
      'tiny:1b-q2_k',
    ]);
  });

  it('loads on demand the variant a name means, and reports the measurement once loaded', async () => {
    const { manager, loads } = setup();
    expect(await text(manager, 'tiny')).toBe('tiny:1b-q8_0');
    expect(await text(manager, 'tiny:1b-q2_k')).toBe('tiny:1b-q2_k');
    expect(await text(manager, 'tiny:1b')).toBe('tiny:1b-q8_0');
    expect(loads).toEqual(['tiny:1b-q8_0', 'tiny:1b-q2_k']);
    const q8 = (await manager.listModels()).find((m) => m.name === 'tiny:1b-q8_0');
    expect(q8).toEqual({
      name: 'tiny:1b-q8_0',
      loaded: true,
      memoryBytes: Math.round(300 * MiB * 0.9),
      quantization: 'Q8_0',
    });
  });

  it('unloads the least recently used idle model when memory is short', async () => {
    const { manager, engines, loads } = setup({ limitMiB: 400 });
    await text(manager, 'tiny:1b-q4_k_m'); // 162 MiB measured
    await text(manager, 'other:1b'); // 162 → 324 loaded
    await text(manager, 'tiny:1b-q4_k_m'); // touch: other is now least recent
    await text(manager, 'tiny:1b-q2_k'); // 120 more does not fit in 400: other goes
    expect(manager.loadedTags().sort()).toEqual(['tiny:1b-q2_k', 'tiny:1b-q4_k_m']);
    expect(engines.get('other:1b-q4_k_m')?.closed).toBe(true);
    expect(engines.get('tiny:1b-q4_k_m')?.closed).toBe(false);
    expect(loads).toEqual(['tiny:1b-q4_k_m', 'other:1b-q4_k_m', 'tiny:1b-q2_k']);
  });

  it('tells its metrics how long each load and unload took', async () => {
    const { manager, timed } = setup({ limitMiB: 400 });
    await text(manager, 'tiny:1b-q4_k_m');
    await text(manager, 'other:1b');
    await text(manager, 'tiny:1b-q2_k'); // other:1b (least recent) is unloaded first
    expect(await manager.unload('tiny:1b-q2_k')).toBe(true);
    expect(timed).toEqual([
      'load tiny:1b-q4_k_m true',
      'load other:1b-q4_k_m true',
      'unload tiny:1b-q4_k_m true',
      'load tiny:1b-q2_k true',
      'unload tiny:1b-q2_k true',
    ]);
  });

  it('never unloads a model that is serving; says so when nothing can make room', async () => {
    const { manager } = setup({ limitMiB: 300 });
    const signal = new AbortController().signal;
    const busy = manager.generate({ model: 'tiny:1b-q4_k_m', prompt: 'x' }, { signal });
    await busy.next(); // holds tiny:1b-q4_k_m in use
    await expect(text(manager, 'other:1b')).rejects.toMatchObject({ code: 'engine_unavailable' });
    await busy.return(undefined);
    expect(await text(manager, 'other:1b')).toBe('other:1b-q4_k_m');
    expect(manager.loadedTags()).toEqual(['other:1b-q4_k_m']);
  });

  it('loads once when two requests ask at the same time', async () => {
    const { manager, loads } = setup();
    await Promise.all([
      text(manager, 'tiny'),
      text(manager, 'tiny'),
      text(manager, 'tiny:1b-q8_0'),
    ]);
    expect(loads).toEqual(['tiny:1b-q8_0']);
  });

  it('refuses a pinned variant that does not fit, and unknown names', async () => {
    const { manager } = setup({ limitMiB: 200 });
    await expect(text(manager, 'tiny:1b-q8_0')).rejects.toMatchObject({ code: 'model_not_found' });
    await expect(text(manager, 'llama3:8b')).rejects.toMatchObject({ code: 'model_not_found' });
  });

  it('removes a variant: unloads it and deletes its file', async () => {
    const { manager } = setup();
    await text(manager, 'tiny:1b-q2_k');
    expect(await manager.remove('tiny:1b-q2_k')).toBe(true);
    expect(manager.loadedTags()).toEqual([]);
    expect((await manager.listModels()).map((m) => m.name)).not.toContain('tiny:1b-q2_k');
  });
});
