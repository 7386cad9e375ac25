// Picks the engine: an OpenAI-compatible upstream (ENGINE=openai), Ollama when OLLAMA_HOST
// answers (or ENGINE=ollama), else embedded llama.cpp.

import { existsSync } from 'node:fs';
import { importEmbeddedEngine } from './embedded-module.ts';
import type { InferenceEngine } from './engine.ts';
import { normalizeHost, OllamaEngine, probeOllama } from './ollama.ts';

export const ENGINE_KINDS = ['llama-cpp', 'ollama', 'openai'] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

export interface EngineSelection {
  /** Forces one engine; otherwise Ollama if reachable, else llama.cpp. */
  engine?: EngineKind;
  ollamaHost?: string;
  /** Ollama's own parallelism (OLLAMA_NUM_PARALLEL), advertised as the agent's slots. */
  ollamaNumParallel?: number;
  /** Base URL of an OpenAI-compatible server (ENGINE=openai). */
  upstreamUrl?: string;
  modelPath: string;
  /** Models to advertise; the first names llama.cpp's model. Unset = Ollama's whole list. */
  models?: string[];
  maxConcurrentJobs: number;
  contextSizePerSequence?: number;
  threads?: number;
  fetch?: typeof fetch;
  /** Probe timeout for OLLAMA_HOST, ms. */
  probeTimeoutMs?: number;
}

export const DEFAULT_MODEL_NAME = 'smollm2:135m';

/** What selectEngine would pick, without loading anything. */
export async function chooseEngineKind(sel: EngineSelection): Promise<EngineKind> {
  if (sel.engine) return sel.engine;
  if (!sel.ollamaHost) return 'llama-cpp';
  const up = await probeOllama(sel.ollamaHost, {
    ...(sel.fetch ? { fetch: sel.fetch } : {}),
    timeoutMs: sel.probeTimeoutMs ?? 1000,
  });
  return up ? 'ollama' : 'llama-cpp';
}

export async function selectEngine(sel: EngineSelection): Promise<InferenceEngine> {
  const kind = await chooseEngineKind(sel);
  if (kind === 'openai') {
    if (!sel.upstreamUrl) throw new Error('ENGINE=openai needs UPSTREAM_URL');
    const { OpenAIUpstreamEngine } = await import('./openai-upstream.ts');
    return new OpenAIUpstreamEngine({
      baseUrl: sel.upstreamUrl,
      ...(sel.fetch ? { fetch: sel.fetch } : {}),
      ...(sel.models ? { models: sel.models } : {}),
    });
  }
  if (kind === 'ollama') {
    return new OllamaEngine({
      host: normalizeHost(sel.ollamaHost ?? 'http://127.0.0.1:11434'),
      ...(sel.fetch ? { fetch: sel.fetch } : {}),
      ...(sel.models ? { models: sel.models } : {}),
      ...(sel.ollamaNumParallel ? { numParallel: sel.ollamaNumParallel } : {}),
    });
  }
  if (!existsSync(sel.modelPath)) {
    throw new Error(
      `model file not found: ${sel.modelPath} (run \`npm run model:fetch\`, or set MODEL_PATH)`,
    );
  }
  // Loaded lazily: importing node-llama-cpp is not free, and Ollama hosts may not have it.
  const { LlamaCppEngine } = await importEmbeddedEngine();
  return LlamaCppEngine.create({
    modelPath: sel.modelPath,
    modelName: sel.models?.[0] ?? DEFAULT_MODEL_NAME,
    sequences: sel.maxConcurrentJobs,
    ...(sel.contextSizePerSequence ? { contextSizePerSequence: sel.contextSizePerSequence } : {}),
    ...(sel.threads ? { threads: sel.threads } : {}),
  });
}
