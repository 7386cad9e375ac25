// Embedding routes: OpenAI /v1/embeddings and Ollama /api/embed, one engine call per request.
import type { Hono } from 'hono';
import type { TicketClaims } from '../../protocol/agent-api.ts';
import { INFERENCE_PATHS } from '../../protocol/dialects.ts';
import { ollamaEmbedBody, openAIEmbeddingBody } from '../../protocol/inference.ts';
import {
  type EmbedRequest,
  type EmbedResult,
  EngineError,
  toEngineError,
} from '../engines/engine.ts';
import type { Job } from '../jobs.ts';
import { toHttpError } from './errors.ts';
import { admit, awaitReport, endJob, type JobDeps } from './job.ts';
import { fromEmbedding, parseBody } from './schemas.ts';

const MS_TO_NS = 1_000_000;

export function registerEmbeddingRoutes(app: Hono, deps: JobDeps): void {
  app.post(INFERENCE_PATHS.openAIEmbedding, async (c) => {
    const { claims, body, slot } = await admit(c, deps, (raw) =>
      parseBody(openAIEmbeddingBody, raw),
    );
    const request = fromEmbedding(body);
    const result = await runEmbedding(deps, claims, slot, request, c.req.raw.signal);
    const base64 = body.encoding_format === 'base64';
    return c.json({
      object: 'list',
      data: result.embeddings.map((vector, index) => ({
        object: 'embedding',
        index,
        embedding: base64 ? float32Base64(vector) : vector,
      })),
      model: body.model,
      usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
    });
  });

  app.post(INFERENCE_PATHS.ollamaEmbed, async (c) => {
    const { claims, body, slot } = await admit(c, deps, (raw) => parseBody(ollamaEmbedBody, raw));
    const result = await runEmbedding(deps, claims, slot, fromEmbedding(body), c.req.raw.signal);
    return c.json({
      model: body.model,
      embeddings: result.embeddings,
      total_duration: Math.round(Math.max(0, deps.now() - slot.startedAt) * MS_TO_NS),
      load_duration: 0,
      prompt_eval_count: result.promptTokens,
    });
  });
}

/**
 * Runs the engine's embed, then releases the slot and reports the job exactly once; a success
 * waits for the report's delivery (at most REPORT_WAIT_MS) before its answer leaves, so the
 * client's next request finds the slot free (docs/adr/0009).
 */
async function runEmbedding(
  deps: JobDeps,
  claims: TicketClaims,
  slot: Job,
  request: EmbedRequest,
  clientSignal: AbortSignal,
): Promise<EmbedResult> {
  let released = false;
  const release = () => {
    if (!released) deps.jobs.release(slot);
    released = true;
  };
  const report = (
    outcome: 'success' | 'rejected' | 'error' | 'cancelled',
    tokens = 0,
    failure?: EngineError,
  ) => {
    release();
    const error = failure && toHttpError(failure);
    return endJob(
      deps,
      claims.jti,
      {
        outcome,
        model: claims.model,
        promptTokens: tokens,
        completionTokens: 0,
        durationMs: Math.max(0, deps.now() - slot.startedAt),
        ...(failure && outcome !== 'cancelled' ? { error: failure.message.slice(0, 2000) } : {}),
      },
      error ? { status: error.status, reason: error.code } : { status: 200, reason: 'stop' },
    );
  };
  try {
    if (!deps.engine.embed) {
      throw new EngineError('invalid_request', `the ${deps.engine.kind} engine has no embeddings`);
    }
    const result = await deps.engine.embed(request, { signal: clientSignal });
    await awaitReport(report('success', result.promptTokens));
    return result;
  } catch (err) {
    const failure = toEngineError(err, clientSignal);
    if (failure.code === 'aborted') report('cancelled', 0, failure);
    else if (failure.code === 'invalid_request' || failure.code === 'model_not_found') {
      report('rejected', 0, failure);
    } else report('error', 0, failure);
    throw failure;
  } finally {
    release();
  }
}

/** OpenAI's `encoding_format: "base64"`: little-endian float32s, base64-encoded. */
export function float32Base64(vector: readonly number[]): string {
  const view = new DataView(new ArrayBuffer(vector.length * 4));
  for (const [i, v] of vector.entries()) view.setFloat32(i * 4, v, true);
  const bytes = new Uint8Array(view.buffer);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
