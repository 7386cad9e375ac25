// Request bodies of the inference dialects (OpenAI chat/completions, Ollama chat/generate), checked
// alike by the control plane (before it reserves a slot) and by the agent (before it generates).
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

const openAISampling = {
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

const ollamaCommon = { model, stream: z.boolean().nullish(), options: ollamaOptions };

/** Ollama accepts a chat with no messages (it only loads the model), so they default to []. */
export const ollamaChatBody = z.looseObject({
  ...ollamaCommon,
  messages: z
    .array(z.looseObject({ role: z.enum(['system', 'user', 'assistant']), content: z.string() }))
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

/** POST /v1/route: only what placement needs; the body goes to the agent later. */
export const routeBody = z.looseObject({ model, max_tokens: tokens.nullish() });
