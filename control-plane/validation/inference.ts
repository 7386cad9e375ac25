// What the control plane checks in an inference body before routing it: model and token limits.
import { z } from 'zod';
import { ApiError } from '../errors.ts';

/** Highest value any count field may carry; beyond it a request is nonsense, not big. */
const MAX_COUNT = 1_000_000;
/** OpenAI's documented default for the legacy completions endpoint. */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

const model = z.string().min(1).max(200);
const tokens = z.number().int().min(1).max(MAX_COUNT);
const stop = z.union([z.string().max(1000), z.array(z.string().max(1000)).max(16)]).nullish();

const openAIBody = z.looseObject({
  model,
  max_tokens: tokens.nullish(),
  max_completion_tokens: tokens.nullish(),
  n: z.literal(1, { error: 'only n = 1 is supported' }).nullish(),
  stop,
  stream: z.boolean().nullish(),
  logit_bias: z
    .record(z.string().regex(/^\d{1,9}$/, 'token ids are integers'), z.number().min(-100).max(100))
    .refine((m) => Object.keys(m).length <= 300, 'at most 300 entries')
    .nullish(),
});

const ollamaBody = z.looseObject({
  model,
  stream: z.boolean().nullish(),
  options: z
    .looseObject({
      // Ollama: -1 = unlimited, -2 = fill the context; both mean "as many as allowed".
      num_predict: z.number().int().min(-2).max(MAX_COUNT).nullish(),
      stop,
    })
    .nullish(),
});

const routeBody = z.looseObject({ model, max_tokens: tokens.nullish() });

export type InferenceDialect = 'openai-chat' | 'openai-completion' | 'ollama' | 'route';

export interface InferenceLimits {
  model: string;
  /** max_tokens the ticket allows: what the client asked for, or the cap when it asked none. */
  maxTokens: number;
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

function requested(dialect: InferenceDialect, raw: unknown): { model: string; ask?: number } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ApiError('invalid_request', 'The request body must be a JSON object');
  }
  if (dialect === 'ollama') {
    const r = ollamaBody.safeParse(raw);
    if (!r.success) fail(r.error);
    const n = r.data.options?.num_predict;
    return n !== undefined && n !== null && n > 0 ? { model: r.data.model, ask: n } : r.data;
  }
  if (dialect === 'route') {
    const r = routeBody.safeParse(raw);
    if (!r.success) fail(r.error);
    return { model: r.data.model, ...(r.data.max_tokens ? { ask: r.data.max_tokens } : {}) };
  }
  const r = openAIBody.safeParse(raw);
  if (!r.success) fail(r.error);
  const ask =
    r.data.max_completion_tokens ??
    r.data.max_tokens ??
    (dialect === 'openai-completion' ? COMPLETIONS_DEFAULT_MAX_TOKENS : undefined);
  return { model: r.data.model, ...(ask ? { ask } : {}) };
}

/** Validates the fields the control plane relies on; throws a 400 ApiError naming the field. */
export function inferenceLimits(
  dialect: InferenceDialect,
  raw: unknown,
  maxTokensCap: number,
): InferenceLimits {
  const { model, ask } = requested(dialect, raw);
  if (ask !== undefined && ask > maxTokensCap) {
    const param = dialect === 'ollama' ? 'options.num_predict' : 'max_tokens';
    throw new ApiError(
      'invalid_request',
      `'${param}' is ${ask}; this service allows at most ${maxTokensCap} tokens per request`,
      { param },
    );
  }
  return { model, maxTokens: ask ?? maxTokensCap };
}

export function dialectOf(path: string): InferenceDialect {
  if (path.startsWith('/api/')) return 'ollama';
  if (path === '/v1/completions') return 'openai-completion';
  if (path === '/v1/route') return 'route';
  return 'openai-chat';
}
