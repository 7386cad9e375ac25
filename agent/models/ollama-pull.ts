// Ollama side of model management: pull by quantization tag with streamed progress, and measured sizes from /api/ps.
import { type AbortableAsyncIterator, Ollama, type ProgressResponse } from 'ollama';
import type { QuantName } from './quant.ts';

/** `hf.co/{user}/{repo}:{QUANT}`: Ollama pulls one GGUF quantization straight from a Hugging Face repo. */
export function huggingFaceTag(repo: string, quant: QuantName): string {
  return `hf.co/${repo}:${quant}`;
}

export interface OllamaPullProgress {
  status: string;
  /** Layer being downloaded, when the status is a download. */
  digest?: string;
  completed?: number;
  total?: number;
}

export class OllamaPullError extends Error {
  override readonly name = 'OllamaPullError';
}

export interface OllamaPullOptions {
  host: string;
  fetch?: typeof fetch;
  onProgress?: (p: OllamaPullProgress) => void;
  signal?: AbortSignal;
}

/**
 * Pulls `model` (library tag like `smollm2:135m-instruct-q8_0`, or `hf.co/user/repo:Q4_K_M`)
 * through Ollama's /api/pull, streaming progress. Resolves on `success`; an error line, a stream
 * that ends without `success`, or an abort rejects with a message naming the model.
 */
export async function pullWithOllama(model: string, opts: OllamaPullOptions): Promise<void> {
  const client = new Ollama({ host: opts.host, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
  if (opts.signal?.aborted) throw new OllamaPullError(`pull of ${model} aborted`);
  let stream: AbortableAsyncIterator<ProgressResponse>;
  try {
    stream = await client.pull({ model, stream: true });
  } catch (err) {
    throw new OllamaPullError(`ollama pull ${model}: ${(err as Error).message}`, { cause: err });
  }
  // Abort this one stream (never the client-wide abort()).
  const onAbort = () => stream.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let last = '';
  try {
    for await (const part of stream) {
      last = part.status;
      opts.onProgress?.({
        status: part.status,
        ...(part.digest ? { digest: part.digest } : {}),
        ...(part.total ? { total: part.total } : {}),
        ...(part.completed !== undefined && part.total ? { completed: part.completed } : {}),
      });
    }
  } catch (err) {
    if (opts.signal?.aborted) throw new OllamaPullError(`pull of ${model} aborted`, { cause: err });
    throw new OllamaPullError(`ollama pull ${model}: ${(err as Error).message}`, { cause: err });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (last !== 'success') {
    throw new OllamaPullError(
      `ollama pull ${model}: stream ended at '${last || 'nothing'}', not success`,
    );
  }
}

export interface OllamaLoadedModel {
  name: string;
  /** Bytes Ollama says the loaded model takes (RAM + VRAM). */
  sizeBytes: number;
  vramBytes: number;
}

/** What Ollama has loaded right now and what it measures each model at (/api/ps). */
export async function ollamaLoadedModels(
  host: string,
  f: typeof fetch = fetch,
): Promise<OllamaLoadedModel[]> {
  const client = new Ollama({ host, fetch: f });
  const ps = await client.ps();
  return ps.models.map((m) => ({ name: m.name, sizeBytes: m.size, vramBytes: m.size_vram }));
}
