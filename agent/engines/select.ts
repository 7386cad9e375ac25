// Picks the engine: ENGINE when set (openai, ollama, llama-server, llama-cpp); else Ollama when
// OLLAMA_HOST answers; else a managed llama-server child when a llama-server binary is found
// (ADR 0019: the fastest on this host); else embedded llama.cpp.
import { existsSync } from 'node:fs';
import type { Logger } from '../log.ts';
import { importEmbeddedEngine } from './embedded-module.ts';
import type { InferenceEngine } from './engine.ts';
import { normalizeHost, OllamaEngine, probeOllama } from './ollama.ts';

export const ENGINE_KINDS = ['llama-cpp', 'llama-server', 'ollama', 'openai'] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

export interface EngineSelection {
  /** Forces one engine; otherwise Ollama if reachable, else llama-server if found, else llama.cpp. */
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
  /** Embedded engine: context sequences, `maxConcurrentJobs` or more (the rest: prompt cache). */
  cacheSequences?: number;
  contextSizePerSequence?: number;
  threads?: number;
  fetch?: typeof fetch;
  /** Probe timeout for OLLAMA_HOST, ms. */
  probeTimeoutMs?: number;
  /** The llama-server binary (an operator's path, or the build cache's); set = found. */
  llamaServer?: string;
  log?: Logger;
  /** ENGINE=llama-server: what to do when the child keeps crashing (default: exit 70). */
  onEngineGone?: () => void;
}

export const DEFAULT_MODEL_NAME = 'smollm2:135m';

/** The engine `agent start` runs, and why (the reason is logged at start and shown by doctor). */
export interface EngineChoice {
  kind: EngineKind;
  reason: string;
}

/** What selectEngine would pick, and why, without loading anything. */
export async function chooseEngine(sel: EngineSelection): Promise<EngineChoice> {
  if (sel.engine) return { kind: sel.engine, reason: `ENGINE=${sel.engine}` };
  let ollama = 'no OLLAMA_HOST';
  if (sel.ollamaHost) {
    const up = await probeOllama(sel.ollamaHost, {
      ...(sel.fetch ? { fetch: sel.fetch } : {}),
      timeoutMs: sel.probeTimeoutMs ?? 1000,
    });
    if (up) return { kind: 'ollama', reason: `Ollama answers at ${sel.ollamaHost}` };
    ollama = `Ollama does not answer at ${sel.ollamaHost}`;
  }
  if (sel.llamaServer) {
    return { kind: 'llama-server', reason: `${ollama}; llama-server at ${sel.llamaServer}` };
  }
  return {
    kind: 'llama-cpp',
    reason: `${ollama}; no llama-server found (give --llama-server PATH or LLAMA_SERVER; in a checkout, bash scripts/build-llama-cpp.sh llama-server builds one)`,
  };
}

export async function selectEngine(sel: EngineSelection): Promise<InferenceEngine> {
  const { kind } = await chooseEngine(sel);
  if (kind === 'openai') {
    if (!sel.upstreamUrl) throw new Error('ENGINE=openai needs UPSTREAM_URL');
    const { OpenAIUpstreamEngine } = await import('./openai-upstream.ts');
    return new OpenAIUpstreamEngine({
      baseUrl: sel.upstreamUrl,
      ...(sel.fetch ? { fetch: sel.fetch } : {}),
      ...(sel.models ? { models: sel.models } : {}),
    });
  }
  if (kind === 'llama-server') return startLlamaServer(sel);
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
    sequences: sel.cacheSequences ?? sel.maxConcurrentJobs,
    slots: sel.maxConcurrentJobs,
    ...(sel.contextSizePerSequence ? { contextSizePerSequence: sel.contextSizePerSequence } : {}),
    ...(sel.threads ? { threads: sel.threads } : {}),
  });
}

async function startLlamaServer(sel: EngineSelection): Promise<InferenceEngine> {
  if (!sel.llamaServer) {
    throw new Error(
      'ENGINE=llama-server needs a llama-server binary: --llama-server PATH (LLAMA_SERVER), or build one with scripts/build-llama-cpp.sh llama-server',
    );
  }
  if (!existsSync(sel.llamaServer)) throw new Error(`llama-server not found: ${sel.llamaServer}`);
  if (!existsSync(sel.modelPath)) throw new Error(`model file not found: ${sel.modelPath}`);
  const { LlamaServerEngine } = await import('./llama-server.ts');
  const log = sel.log ?? silentLog;
  return LlamaServerEngine.create({
    binary: sel.llamaServer,
    log,
    args: {
      modelPath: sel.modelPath,
      modelName: sel.models?.[0] ?? DEFAULT_MODEL_NAME,
      slots: sel.maxConcurrentJobs,
      contextSizePerSequence: sel.contextSizePerSequence ?? 2048,
      threads: sel.threads,
    },
    ...(sel.fetch ? { fetch: sel.fetch } : {}),
    // Out of restarts: the agent process ends non-zero, so its own supervisor reports it offline
    // and restarts it (ADR 0007), as for a crash of the embedded engine.
    onGiveUp: sel.onEngineGone ?? (() => process.exit(70)),
  });
}

const silentLog: Logger = { info() {}, warn() {}, error() {} };
