// Request bodies of the inference routes (schemas in protocol/), mapped to GenerateRequest and
// EmbedRequest.
import type { z } from 'zod';
import {
  type OllamaChatBody,
  type OllamaEmbedBody,
  type OllamaGenerateBody,
  OPENAI_COMPLETIONS_DEFAULT_MAX_TOKENS,
  type OpenAIChatBody,
  type OpenAICompletionBody,
  type OpenAIEmbeddingBody,
  type OpenAIResponseFormat,
  type OpenAIToolChoice,
} from '../../protocol/inference.ts';
import type {
  ChatMessage,
  EmbedRequest,
  GenerateRequest,
  ResponseFormat,
  SamplingOptions,
  ToolChoice,
  ToolDefinition,
} from '../engines/engine.ts';
import { newToolCallId } from '../engines/tool-calls.ts';
import { AgentHttpError } from './errors.ts';

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

function textOf(content: string | { text: string }[] | null | undefined): string {
  if (content === null || content === undefined) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

interface ToolsField {
  tools?:
    | {
        function: { name: string; description?: string | null; parameters?: object | null };
      }[]
    | null;
}

/** `tools` of either dialect (both use OpenAI's shape) as engine tool definitions. */
function fromTools(body: ToolsField): { tools?: ToolDefinition[] } {
  if (!body.tools) return {};
  return {
    tools: body.tools.map(({ function: f }) => ({
      name: f.name,
      ...defined({
        description: f.description ?? undefined,
        parameters: (f.parameters ?? undefined) as ToolDefinition['parameters'],
      }),
    })),
  };
}

function fromToolChoice(choice: OpenAIToolChoice): { toolChoice?: ToolChoice } {
  if (!choice) return {};
  return { toolChoice: typeof choice === 'string' ? choice : { name: choice.function.name } };
}

export function fromOpenAIChat(body: OpenAIChatBody): GenerateRequest {
  // A tool message names its call; engines that want the function's name (Ollama) get it too.
  const names = new Map(
    body.messages.flatMap((m) => m.tool_calls ?? []).map((c) => [c.id, c.function.name]),
  );
  const messages: ChatMessage[] = body.messages.map((m) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content: textOf(m.content),
    ...defined({
      toolCalls: m.tool_calls?.map((c) => ({
        id: c.id,
        name: c.function.name,
        arguments: c.function.arguments,
      })),
      toolCallId: m.role === 'tool' ? (m.tool_call_id ?? undefined) : undefined,
      toolName: m.role === 'tool' ? names.get(m.tool_call_id ?? '') : undefined,
    }),
  }));
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  return {
    model: body.model,
    messages,
    ...openAISamplingOptions(body),
    ...defined({
      maxTokens,
      n: body.n ?? undefined,
      parallelToolCalls: body.parallel_tool_calls ?? undefined,
      logprobs: body.logprobs ? (body.top_logprobs ?? 0) : undefined,
    }),
    ...fromResponseFormat(body.response_format),
    ...fromTools(body),
    ...fromToolChoice(body.tool_choice),
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
    ...defined({ n: body.n ?? undefined, logprobs: body.logprobs ?? undefined }),
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
    logprobs: body.logprobs ? (body.top_logprobs ?? 0) : undefined,
  });
}

export function fromOllamaChat(body: OllamaChatBody): GenerateRequest {
  // Only the fields below reach an engine or an upstream server; others stay here.
  const messages: ChatMessage[] = [];
  // Ollama's tool messages name the function, not the call: each answers the earliest open call
  // of that function (or, unnamed, the earliest open call).
  const open: { id: string; name: string }[] = [];
  for (const m of body.messages) {
    const message: ChatMessage = { role: m.role, content: m.content };
    if (m.tool_calls?.length) {
      message.toolCalls = m.tool_calls.map((c) => ({
        id: c.id ?? newToolCallId(),
        name: c.function.name,
        arguments: JSON.stringify(c.function.arguments),
      }));
      open.push(...message.toolCalls);
    }
    if (m.role === 'tool') {
      const at = open.findIndex((c) => !m.tool_name || c.name === m.tool_name);
      const answered = at >= 0 ? open.splice(at, 1)[0] : undefined;
      if (answered) message.toolCallId = answered.id;
      const name = m.tool_name ?? answered?.name;
      if (name) message.toolName = name;
    }
    messages.push(message);
  }
  return {
    model: body.model,
    messages,
    ...ollamaSamplingOptions(body),
    ...fromOllamaFormat(body.format),
    ...fromTools(body),
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

export function fromEmbedding(body: OpenAIEmbeddingBody | OllamaEmbedBody): EmbedRequest {
  const input = typeof body.input === 'string' ? [body.input] : body.input;
  return { model: body.model, input, ...defined({ dimensions: body.dimensions ?? undefined }) };
}
