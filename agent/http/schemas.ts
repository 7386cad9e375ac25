// Request bodies of the OpenAI and Ollama inference routes (zod), mapped to GenerateRequest.
import { z } from 'zod';
import type {
  ChatMessage,
  EmbedRequest,
  GenerateRequest,
  ResponseFormat,
  SamplingOptions,
} from '../engines/engine.ts';
import { AgentHttpError } from './errors.ts';

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });

const openAIMessage = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart), z.null()]),
});

const stopField = z.union([z.string(), z.array(z.string()).max(16)]).nullish();

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

const openAISampling = {
  response_format: responseFormat,
  model: z.string().min(1).max(200),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
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
  n: z.literal(1).nullish(),
  // Not applied by the engines, but a malformed one is still the client's error.
  logit_bias: z
    .record(z.string().regex(/^\d{1,9}$/), z.number().min(-100).max(100))
    .refine((m) => Object.keys(m).length <= 300, 'at most 300 entries')
    .nullish(),
};

export const openAIChatBody = z.looseObject({
  ...openAISampling,
  messages: z.array(openAIMessage).min(1).max(4096),
  max_completion_tokens: z.number().int().positive().nullish(),
});
export type OpenAIChatBody = z.infer<typeof openAIChatBody>;

export const openAICompletionBody = z.looseObject({
  ...openAISampling,
  prompt: z.union([z.string(), z.array(z.string()).length(1)]),
});
export type OpenAICompletionBody = z.infer<typeof openAICompletionBody>;

/** OpenAI's documented default for the legacy completions endpoint. */
export const OPENAI_COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

const ollamaOptions = z
  .looseObject({
    num_predict: z.number().int().nullish(),
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
  model: z.string().min(1).max(200),
  stream: z.boolean().nullish(),
  options: ollamaOptions,
  // Ollama: "json", a JSON schema, or "" for none.
  format: z
    .union([z.enum(['json', '']), jsonSchema], {
      error: 'format must be "json" or a JSON schema object',
    })
    .nullish(),
};

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
  model: z.string().min(1).max(200),
  input: embedInput,
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().positive().max(65536).nullish(),
  user: z.string().nullish(),
});
export type OpenAIEmbeddingBody = z.infer<typeof openAIEmbeddingBody>;

export const ollamaEmbedBody = z.looseObject({
  model: z.string().min(1).max(200),
  input: embedInput,
  dimensions: z.number().int().positive().max(65536).nullish(),
});
export type OllamaEmbedBody = z.infer<typeof ollamaEmbedBody>;

export function fromEmbedding(body: OpenAIEmbeddingBody | OllamaEmbedBody): EmbedRequest {
  const input = typeof body.input === 'string' ? [body.input] : body.input;
  return { model: body.model, input, ...defined({ dimensions: body.dimensions ?? undefined }) };
}

/** Parses `body` or throws a 400 naming the first offending field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  const message = issue ? `${path ? `${path}: ` : ''}${issue.message}` : 'invalid request body';
  throw new AgentHttpError('invalid_request', message, path ? { param: path } : {});
}

function stopList(stop: string | string[] | null | undefined): string[] | undefined {
  if (stop === null || stop === undefined) return undefined;
  const list = (typeof stop === 'string' ? [stop] : stop).filter((s) => s.length > 0);
  return list.length ? list : undefined;
}

function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

type OpenAIResponseFormat = z.infer<typeof responseFormat>;

function fromResponseFormat(rf: OpenAIResponseFormat): { format?: ResponseFormat } {
  if (!rf || rf.type === 'text') return {};
  if (rf.type === 'json_object' || !rf.json_schema.schema) return { format: { type: 'json' } };
  const { name, schema, strict } = rf.json_schema;
  return {
    format: { type: 'json_schema', schema, name, ...defined({ strict: strict ?? undefined }) },
  };
}

function fromOllamaFormat(format: string | Record<string, unknown> | null | undefined) {
  if (format === 'json') return { format: { type: 'json' } as ResponseFormat };
  if (typeof format === 'object' && format !== null) {
    return { format: { type: 'json_schema', schema: format } as ResponseFormat };
  }
  return {};
}

function openAISamplingOptions(body: OpenAIChatBody | OpenAICompletionBody): SamplingOptions {
  return defined({
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    topK:
      body.top_k !== undefined && body.top_k !== null && body.top_k > 0 ? body.top_k : undefined,
    minP: body.min_p ?? undefined,
    repeatPenalty: body.repetition_penalty ?? undefined,
    frequencyPenalty: body.frequency_penalty ?? undefined,
    presencePenalty: body.presence_penalty ?? undefined,
    seed: body.seed ?? undefined,
    stop: stopList(body.stop),
  });
}

function textOf(content: string | { text: string }[] | null): string {
  if (content === null) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

export function fromOpenAIChat(body: OpenAIChatBody): GenerateRequest {
  const messages: ChatMessage[] = body.messages.map((m) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content: textOf(m.content),
  }));
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  return {
    model: body.model,
    messages,
    ...openAISamplingOptions(body),
    ...defined({ maxTokens }),
    ...fromResponseFormat(body.response_format),
  };
}

export function fromOpenAICompletion(body: OpenAICompletionBody): GenerateRequest {
  const prompt = typeof body.prompt === 'string' ? body.prompt : (body.prompt[0] ?? '');
  const maxTokens = body.max_tokens ?? OPENAI_COMPLETIONS_DEFAULT_MAX_TOKENS;
  return {
    model: body.model,
    prompt,
    ...openAISamplingOptions(body),
    maxTokens,
    ...fromResponseFormat(body.response_format),
  };
}

function ollamaSamplingOptions(body: OllamaChatBody | OllamaGenerateBody): SamplingOptions {
  const o = body.options ?? {};
  const numPredict = o.num_predict ?? undefined;
  return defined({
    // Ollama: -1 = unlimited, -2 = fill the context.
    maxTokens: numPredict !== undefined && numPredict > 0 ? numPredict : undefined,
    temperature: o.temperature ?? undefined,
    topP: o.top_p ?? undefined,
    topK: o.top_k !== undefined && o.top_k !== null && o.top_k > 0 ? o.top_k : undefined,
    minP: o.min_p ?? undefined,
    repeatPenalty: o.repeat_penalty ?? undefined,
    frequencyPenalty: o.frequency_penalty ?? undefined,
    presencePenalty: o.presence_penalty ?? undefined,
    seed: o.seed ?? undefined,
    stop: stopList(o.stop),
  });
}

export function fromOllamaChat(body: OllamaChatBody): GenerateRequest {
  // Only role and content reach an engine or an upstream server; other fields stay here.
  const messages: ChatMessage[] = body.messages.map((m) => ({ role: m.role, content: m.content }));
  return {
    model: body.model,
    messages,
    ...ollamaSamplingOptions(body),
    ...fromOllamaFormat(body.format),
  };
}

/** Ollama's /api/generate applies the chat template unless `raw` is set. */
export function fromOllamaGenerate(body: OllamaGenerateBody): GenerateRequest {
  const sampling = { ...ollamaSamplingOptions(body), ...fromOllamaFormat(body.format) };
  if (body.raw) return { model: body.model, prompt: body.prompt, ...sampling };
  const messages: ChatMessage[] = [];
  if (body.system) messages.push({ role: 'system', content: body.system });
  messages.push({ role: 'user', content: body.prompt });
  return { model: body.model, messages, ...sampling };
}
