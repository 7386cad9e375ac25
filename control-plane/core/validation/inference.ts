// What the control plane checks in an inference body before routing it: the dialect's whole schema
// (protocol/inference.ts, the same the agent applies) and the service's token cap.
import type { z } from 'zod';
import { ROUTE_PATH } from '../../../protocol/client-api.ts';
import { INFERENCE_PATHS, isOllamaPath } from '../../../protocol/dialects.ts';
import {
  MAX_COUNT,
  OPENAI_COMPLETIONS_DEFAULT_MAX_TOKENS,
  ollamaChatBody,
  ollamaEmbedBody,
  ollamaGenerateBody,
  openAIChatBody,
  openAICompletionBody,
  openAIEmbeddingBody,
  requestedChoices,
  requestedMaxTokens,
  routeBody,
} from '../../../protocol/inference.ts';
import { ApiError } from '../errors.ts';

export type InferenceDialect =
  | 'openai-chat'
  | 'openai-completion'
  | 'ollama-chat'
  | 'ollama-generate'
  | 'openai-embedding'
  | 'ollama-embed'
  | 'route';

export interface InferenceLimits {
  model: string;
  /**
   * Completion tokens the ticket allows: what the client asked for per choice, or the cap when it
   * asked none, times its `n` choices.
   */
  maxTokens: number;
  /** OpenAI's `user`: the end user the client names, for the decision log. */
  user?: string;
}

function fail(error: z.ZodError): never {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : undefined;
  throw new ApiError(
    'invalid_request',
    `Invalid request body${where ? ` at '${where}'` : ''}: ${issue?.message ?? 'bad value'}`,
    where ? { param: where } : {},
  );
}

function parse<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw);
  if (!r.success) fail(r.error);
  return r.data;
}

/** The schema of each dialect that generates (completions, with their default, aside). */
const GENERATING = {
  'openai-chat': openAIChatBody,
  'ollama-chat': ollamaChatBody,
  'ollama-generate': ollamaGenerateBody,
  route: routeBody,
};

function requested(
  dialect: InferenceDialect,
  raw: unknown,
): { model: string; ask?: number; n?: number; user?: string | null | undefined } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ApiError('invalid_request', 'The request body must be a JSON object');
  }
  if (dialect === 'openai-embedding' || dialect === 'ollama-embed') {
    // No tokens are generated: the ticket allows the cap, the agent checks the input's length.
    return parse(dialect === 'ollama-embed' ? ollamaEmbedBody : openAIEmbeddingBody, raw);
  }
  if (dialect === 'openai-completion') {
    const body = parse(openAICompletionBody, raw);
    return {
      model: body.model,
      ask: requestedMaxTokens(body) ?? OPENAI_COMPLETIONS_DEFAULT_MAX_TOKENS,
      n: requestedChoices(body),
      user: body.user,
    };
  }
  const body = parse(GENERATING[dialect], raw);
  const ask = requestedMaxTokens(body);
  const user = 'user' in body && typeof body.user === 'string' ? body.user : undefined;
  // Only the OpenAI dialect (and the route body) has `n`; Ollama bodies may carry anything else.
  const n = dialect === 'openai-chat' || dialect === 'route' ? requestedChoices(body) : 1;
  return { model: body.model, ...(ask ? { ask } : {}), n, user };
}

/** Validates the body against its dialect's schema; throws a 400 ApiError naming the field. */
export function inferenceLimits(
  dialect: InferenceDialect,
  raw: unknown,
  maxTokensCap: number,
): InferenceLimits {
  const { model, ask, n = 1, user } = requested(dialect, raw);
  if (ask !== undefined && ask > maxTokensCap) {
    const param = dialect.startsWith('ollama') ? 'options.num_predict' : 'max_tokens';
    throw new ApiError(
      'invalid_request',
      `'${param}' is ${ask}; this service allows at most ${maxTokensCap} tokens per request`,
      { param },
    );
  }
  // The cap bounds each choice, as max_tokens does; the agent holds the choices to their sum.
  if (ask !== undefined && n * ask > MAX_COUNT) {
    throw new ApiError(
      'invalid_request',
      `n × max_tokens is ${n * ask}; a request may generate at most ${MAX_COUNT} tokens`,
      { param: 'n' },
    );
  }
  const maxTokens = Math.min(n * (ask ?? maxTokensCap), MAX_COUNT);
  return { model, maxTokens, ...(user ? { user } : {}) };
}

export function dialectOf(path: string): InferenceDialect {
  if (path === INFERENCE_PATHS.ollamaChat) return 'ollama-chat';
  if (path === INFERENCE_PATHS.ollamaEmbed) return 'ollama-embed';
  if (path === INFERENCE_PATHS.openAIEmbedding) return 'openai-embedding';
  if (isOllamaPath(path)) return 'ollama-generate';
  if (path === INFERENCE_PATHS.openAICompletion) return 'openai-completion';
  if (path === ROUTE_PATH) return 'route';
  return 'openai-chat';
}
