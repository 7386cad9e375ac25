// Request bodies of the inference dialects (OpenAI chat/completions/embeddings, Ollama
// chat/generate/embed), checked alike by the control plane (before it reserves a slot) and by the agent (before it generates).
import { z } from 'zod';

/** Highest value any count field may carry; beyond it a request is nonsense, not big. */
export const MAX_COUNT = 1_000_000;
/** OpenAI's documented default for the legacy completions endpoint. */
export const OPENAI_COMPLETIONS_DEFAULT_MAX_TOKENS = 16;
/** Most answers (`n`) one request may ask for; each is generated in full, one after another. */
export const MAX_CHOICES = 8;

const model = z.string().min(1).max(200);
const tokens = z.number().int().min(1).max(MAX_COUNT);
/** OpenAI's `n`: how many answers (choices) to generate for the one prompt. */
const choices = z
  .number()
  .int()
  .min(1)
  .max(MAX_CHOICES, { error: `n is at most ${MAX_CHOICES}` })
  .nullish();
const stopField = z.union([z.string().max(1000), z.array(z.string().max(1000)).max(16)]).nullish();

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });

const jsonSchema = z.record(z.string(), z.unknown(), {
  error: 'a JSON schema must be an object',
});

/** OpenAI's rule for function names, applied to both dialects. */
const functionName = z
  .string()
  .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64 characters');
const callId = z.string().min(1).max(200);
const MAX_TOOLS = 128;

/** A function the model may call: `{type: "function", function: {name, description, parameters}}`. */
const tool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: functionName,
    description: z.string().max(10_000).nullish(),
    parameters: jsonSchema.nullish(),
    strict: z.boolean().nullish(),
  }),
});
const tools = z
  .array(tool)
  .min(1)
  .max(MAX_TOOLS)
  .refine(
    (list) => new Set(list.map((t) => t.function.name)).size === list.length,
    'function names must be unique',
  )
  .nullish();

const openAIToolCall = z.looseObject({
  id: callId,
  type: z.literal('function'),
  function: z.looseObject({ name: functionName, arguments: z.string().max(1_000_000) }),
});

const openAIMessage = z
  .looseObject({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
    content: z.union([z.string(), z.array(textPart), z.null()]).optional(),
    tool_calls: z.array(openAIToolCall).min(1).max(MAX_TOOLS).nullish(),
    tool_call_id: callId.nullish(),
  })
  .superRefine((m, ctx) => {
    if (m.tool_calls && m.role !== 'assistant') {
      ctx.addIssue({
        code: 'custom',
        path: ['tool_calls'],
        message: 'only assistant messages make tool calls',
      });
    }
    if (m.role === 'tool' && !m.tool_call_id) {
      ctx.addIssue({
        code: 'custom',
        path: ['tool_call_id'],
        message: 'a tool message needs the tool_call_id it answers',
      });
    }
    if (m.content === undefined && !(m.role === 'assistant' && m.tool_calls)) {
      ctx.addIssue({ code: 'custom', path: ['content'], message: 'content is required' });
    }
  });

/** `none`, `auto`, `required`, or `{type: "function", function: {name}}`. */
const toolChoice = z
  .union(
    [
      z.enum(['none', 'auto', 'required']),
      z.looseObject({
        type: z.literal('function'),
        function: z.looseObject({ name: functionName }),
      }),
    ],
    {
      error:
        'tool_choice must be "none", "auto", "required" or {type: "function", function: {name}}',
    },
  )
  .nullish();
export type OpenAIToolChoice = z.infer<typeof toolChoice>;

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
  n: choices,
  // Not applied by the engines, but a malformed one is still the client's error.
  logit_bias: z
    .record(z.string().regex(/^\d{1,9}$/, 'token ids are integers'), z.number().min(-100).max(100))
    .refine((m) => Object.keys(m).length <= 300, 'at most 300 entries')
    .nullish(),
};

/** Fields no engine serves yet: refused by name, never ignored. */
const NOT_SERVED = 'is not served yet';
/** OpenAI's limits: 20 alternatives per token in chat, 5 in the legacy completions API. */
export const MAX_TOP_LOGPROBS = 20;
export const MAX_COMPLETION_LOGPROBS = 5;

export const openAIChatBody = z
  .looseObject({
    ...openAISampling,
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
    user: z.string().max(256).nullish(),
    messages: z.array(openAIMessage).min(1).max(4096),
    max_completion_tokens: tokens.nullish(),
    tools,
    tool_choice: toolChoice,
    parallel_tool_calls: z.boolean().nullish(),
  })
  .superRefine((body, ctx) => {
    if (body.top_logprobs && !body.logprobs) {
      ctx.addIssue({
        code: 'custom',
        path: ['top_logprobs'],
        message: 'top_logprobs needs logprobs: true',
      });
    }
    const choice = body.tool_choice;
    if (!choice || choice === 'none' || choice === 'auto') return;
    const names = (body.tools ?? []).map((t) => t.function.name);
    if (names.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['tool_choice'], message: 'tool_choice needs tools' });
    } else if (typeof choice === 'object' && !names.includes(choice.function.name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tool_choice', 'function', 'name'],
        message: `no tool named '${choice.function.name}'`,
      });
    }
  });
export type OpenAIChatBody = z.infer<typeof openAIChatBody>;

export const openAICompletionBody = z.looseObject({
  ...openAISampling,
  logprobs: z.number().int().min(0).max(MAX_COMPLETION_LOGPROBS).nullish(),
  user: z.string().max(256).nullish(),
  echo: z.literal(false, { error: `echo ${NOT_SERVED}` }).nullish(),
  best_of: z.literal(1, { error: 'only best_of = 1 is supported' }).nullish(),
  suffix: z.null({ error: `suffix ${NOT_SERVED}` }).optional(),
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
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
  // Ollama: "json", a JSON schema, or "" for none.
  format: z
    .union([z.enum(['json', '']), jsonSchema], {
      error: 'format must be "json" or a JSON schema object',
    })
    .nullish(),
};

/** Ollama's call: arguments as an object, not JSON text. */
const ollamaToolCall = z.looseObject({
  id: callId.nullish(),
  function: z.looseObject({
    name: functionName,
    arguments: z.record(z.string(), z.unknown(), { error: 'arguments must be an object' }),
    index: z.number().int().min(0).max(MAX_TOOLS).nullish(),
  }),
});

/** Ollama accepts a chat with no messages (it only loads the model), so they default to []. */
export const ollamaChatBody = z.looseObject({
  ...ollamaCommon,
  messages: z
    .array(
      z
        .looseObject({
          role: z.enum(['system', 'user', 'assistant', 'tool']),
          content: z.string().default(''),
          // No engine here takes images: refused, never passed on unchecked.
          images: z.array(z.never(), { error: 'images are not supported' }).max(0).nullish(),
          tool_calls: z.array(ollamaToolCall).max(MAX_TOOLS).nullish(),
          tool_name: functionName.nullish(),
        })
        .superRefine((m, ctx) => {
          if (m.tool_calls?.length && m.role !== 'assistant') {
            ctx.addIssue({
              code: 'custom',
              path: ['tool_calls'],
              message: 'only assistant messages make tool calls',
            });
          }
        }),
    )
    .max(4096)
    .default([]),
  tools,
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
 * The completion tokens a body asks for per choice, as sent: max_completion_tokens, max_tokens or
 * Ollama's options.num_predict, the first that is a positive number (Ollama's -1 and -2 ask for
 * none). The control plane puts it, times requestedChoices, in the ticket; the agent refuses a
 * body that asks for more than that.
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

/** OpenAI's `n` as sent (1 when absent; the Ollama dialect has none). */
export function requestedChoices(body: object): number {
  const n = (body as { n?: unknown }).n;
  return typeof n === 'number' && n > 1 ? n : 1;
}

/** POST /v1/route: only what placement needs; the body goes to the agent later. */
export const routeBody = z.looseObject({
  model,
  max_tokens: tokens.nullish(),
  n: choices,
  user: z.string().max(256).nullish(),
});
