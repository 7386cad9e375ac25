// Model catalog JSON: Hugging Face URL layout, base-URL override, tags and aliases, invalid input.
import { describe, expect, it } from 'vitest';
import { CatalogError, ModelCatalog } from '../../../../agent/models/catalog.ts';

const json = {
  models: {
    'smollm2:135m-instruct': {
      aliases: ['smollm2:135m'],
      repo: 'bartowski/SmolLM2-135M-Instruct-GGUF',
      variants: {
        Q8_0: { file: 'SmolLM2-135M-Instruct-Q8_0.gguf', size: 144_811_040 },
        Q4_1: { file: 'SmolLM2-135M-Instruct.Q4_1.gguf', path: 'models/local.gguf' },
        Q2_K: { file: 'x.gguf', url: 'http://mirror.test/any/x.gguf' },
      },
    },
  },
};
const opts = { dir: '/etc/titan', modelsDir: '/var/models' };

describe('ModelCatalog', () => {
  it('lays URLs out like Hugging Face under the base URL, which MODEL_BASE_URL overrides', () => {
    const hf = ModelCatalog.fromJson(json, opts).variant('smollm2:135m-instruct-q8_0');
    expect(hf?.url).toBe(
      'https://huggingface.co/bartowski/SmolLM2-135M-Instruct-GGUF/resolve/main/SmolLM2-135M-Instruct-Q8_0.gguf',
    );
    expect(hf?.localPath).toBe('/var/models/SmolLM2-135M-Instruct-Q8_0.gguf');
    const mirror = ModelCatalog.fromJson(json, { ...opts, baseUrl: 'http://127.0.0.1:9/hf/' });
    expect(mirror.variant('smollm2:135m-instruct', 'Q8_0')?.url).toBe(
      'http://127.0.0.1:9/hf/bartowski/SmolLM2-135M-Instruct-GGUF/resolve/main/SmolLM2-135M-Instruct-Q8_0.gguf',
    );
    expect(mirror.variant('smollm2:135m-instruct-q2_k')?.url).toBe('http://mirror.test/any/x.gguf');
    expect(mirror.variant('smollm2:135m-instruct-q4_1')?.localPath).toBe(
      '/etc/titan/models/local.gguf',
    );
  });

  it('resolves base names, aliases and Ollama-style quant tags', () => {
    const c = ModelCatalog.fromJson(json, opts);
    expect(c.resolve('smollm2:135m')?.pin).toBeUndefined();
    expect(c.resolve('smollm2:135m-instruct')?.model.name).toBe('smollm2:135m-instruct');
    expect(c.resolve('smollm2:135m-instruct-q8_0')?.pin?.quant).toBe('Q8_0');
    expect(c.resolve('SmolLM2:135m-Q8_0')?.pin?.tag).toBe('smollm2:135m-instruct-q8_0');
    expect(c.resolve('smollm2:135m-instruct-q6_k')).toBeUndefined(); // not in the catalog
    expect(c.resolve('llama3:8b')).toBeUndefined();
  });

  it('rejects unknown quant names and bad checksums with a clear error', () => {
    const bad = (variants: unknown) => () =>
      ModelCatalog.fromJson({ models: { 'm:1b': { variants } } }, opts);
    expect(bad({ Q9_9: { file: 'a.gguf' } })).toThrow(CatalogError);
    expect(bad({ Q8_0: { file: 'a.gguf', sha256: 'xyz' } })).toThrow(/sha256/);
    expect(bad({ Q8_0: { file: '../a.gguf' } })).toThrow(/file/);
  });
});
