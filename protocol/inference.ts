// Request bodies of the inference dialects (OpenAI chat/completions/embeddings, Ollama
// chat/generate/embed), checked alike by the control plane (before it reserves a slot) and by the agent (before it generates).
import { z } from 'zod';

/** Highest value any count field may carry; beyond it a request is nonsense, not big. */
export const MAX_COUNT = 1_000_000;
/** OpenAI's documented default for the legacy completions endpoint. */
export const OPENAI_COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

const model = z.string().min(1).max(200);
const tokens = z.number().int().min(1).max(MAX_COUNT);
const stopField = z.union([z.string().max(1000), z.array(z.string().max(1000)).max(16)]).nullish();

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });

const openAIMessage = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart), z.null()]),
});

const jsonSchema = z.record(z.string(), z.unknown(), {
  error: 'a JSON schema must be an object',
});

/** OpenAI structured outputs; `text` is the default (no constraint). */
const responseFormat = z
  .discriminatedUnion('type', [
    z.looseObject({ type: z.literal('text') }),
    z.looseObject({ type: z.literal('json_object') }),
    z.looseObject({
      type: z.literal('json_schema'),
      json_schema: z.looseObject({
        name: z
          .string()
          .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64 characters'),
        description: z.string().nullish(),
        schema: jsonSchema.nullish(),
        strict: z.boolean().nullish(),
      }),
    }),
  ])
  .nullish();
export type OpenAIResponseFormat = z.infer<typeof responseFormat>;

const openAISampling = {
  response_format: responseFormat,
  model,
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: tokens.nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.number().int().min(-1).nullish(),
  // vLLM/llama-server extensions to the OpenAI schema.
  min_p: z.number().min(0).max(1).nullish(),
  repetition_penalty: z.number().positive().max(10).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  seed: z.number().int().nullish(),
  stop: stopField,
  n: z.literal(1, { error: 'only n = 1 is supported' }).nullish(),
  // Not applied by the engines, but a malformed one is still the client's error.
  logit_bias: z
    .record(z.string().regex(/^\d{1,9}$/, 'token ids are integers'), z.number().min(-100).max(100))
    .refine((m) => Object.keys(m).length <= 300, 'at most 300 entries')
    .nullish(),
};

export const openAIChatBody = z.looseObject({
  ...openAISampling,
  messages: z.array(openAIMessage).min(1).max(4096),
  max_completion_tokens: tokens.nullish(),
});
export type OpenAIChatBody = z.infer<typeof openAIChatBody>;

export const openAICompletionBody = z.looseObject({
  ...openAISampling,
  prompt: z.union([z.string(), z.array(z.string()).length(1)]),
});
export type OpenAICompletionBody = z.infer<typeof openAICompletionBody>;

const ollamaOptions = z
  .looseObject({
    // Ollama: -1 = unlimited, -2 = fill the context; both mean "as many as allowed".
    num_predict: z.number().int().min(-2).max(MAX_COUNT).nullish(),
    temperature: z.number().min(0).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    top_k: z.number().int().nullish(),
    min_p: z.number().min(0).max(1).nullish(),
    repeat_penalty: z.number().positive().max(10).nullish(),
    frequency_penalty: z.number().min(-2).max(2).nullish(),
    presence_penalty: z.number().min(-2).max(2).nullish(),
    seed: z.number().int().nullish(),
    stop: stopField,
  })
  .nullish();

const ollamaCommon = {
  model,
  stream: z.boolean().nullish(),
  options: ollamaOptions,
  // Ollama: "json", a JSON schema, or "" for none.
  format: z
    .union([z.enum(['json', '']), jsonSchema], {
      error: 'format must be "json" or a JSON schema object',
    })
    .nullish(),
};

/** Ollama accepts a chat with no messages (it only loads the model), so they default to []. */
export const ollamaChatBody = z.looseObject({
  ...ollamaCommon,
  messages: z
    .array(
      z.looseObject({
        role: z.enum(['system', 'user', 'assistant']),
        content: z.string(),
        // No engine here takes images or tool calls: refused, never passed on unchecked.
        images: z.array(z.never(), { error: 'images are not supported' }).max(0).nullish(),
        tool_calls: z.array(z.never(), { error: 'tool calls are not supported' }).max(0).nullish(),
      }),
    )
    .max(4096)
    .default([]),
});
export type OllamaChatBody = z.infer<typeof ollamaChatBody>;

export const ollamaGenerateBody = z.looseObject({
  ...ollamaCommon,
  prompt: z.string().default(''),
  system: z.string().nullish(),
  raw: z.boolean().nullish(),
});
export type OllamaGenerateBody = z.infer<typeof ollamaGenerateBody>;

/** Embedding input: one text or a batch of texts (token-id arrays are not accepted). */
const embedInput = z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(2048)], {
  error: 'input must be a non-empty string or a list of 1 to 2048 non-empty strings',
});

export const openAIEmbeddingBody = z.looseObject({
  model,
  input: embedInput,
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().positive().max(65536).nullish(),
  user: z.string().nullish(),
});
export type OpenAIEmbeddingBody = z.infer<typeof openAIEmbeddingBody>;

export const ollamaEmbedBody = z.looseObject({
  model,
  input: embedInput,
  dimensions: z.number().int().positive().max(65536).nullish(),
});
export type OllamaEmbedBody = z.infer<typeof ollamaEmbedBody>;

/**
 * The completion tokens a body asks for, as sent: max_completion_tokens, max_tokens or Ollama's
 * options.num_predict, the first that is a positive number (Ollama's -1 and -2 ask for none). The
 * control plane puts it in the ticket; the agent refuses a body that asks for more than that.
 */
export function requestedMaxTokens(body: object): number | undefined {
  const b = body as {
    max_completion_tokens?: unknown;
    max_tokens?: unknown;
    options?: { num_predict?: unknown } | null;
  };
  for (const v of [b.max_completion_tokens, b.max_tokens, b.options?.num_predict]) {
    if (typeof v === 'number' && v > 0) return v;
  }
  return undefined;
}

/** POST /v1/route: only what placement needs; the body goes to the agent later. */
export const routeBody = z.looseObject({ model, max_tokens: tokens.nullish() });
