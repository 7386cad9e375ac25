// Request bodies of the OpenAI and Ollama inference routes (schemas in protocol/), mapped to
// GenerateRequest.
import type { z } from 'zod';
import {
  type OllamaChatBody,
  type OllamaGenerateBody,
  OPENAI_COMPLETIONS_DEFAULT_MAX_TOKENS,
  type OpenAIChatBody,
  type OpenAICompletionBody,
} from '../../protocol/inference.ts';
import type { ChatMessage, GenerateRequest, SamplingOptions } from '../engines/engine.ts';
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
  return { model: body.model, messages, ...openAISamplingOptions(body), ...defined({ maxTokens }) };
}

export function fromOpenAICompletion(body: OpenAICompletionBody): GenerateRequest {
  const prompt = typeof body.prompt === 'string' ? body.prompt : (body.prompt[0] ?? '');
  const maxTokens = body.max_tokens ?? OPENAI_COMPLETIONS_DEFAULT_MAX_TOKENS;
  return { model: body.model, prompt, ...openAISamplingOptions(body), maxTokens };
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
  return { model: body.model, messages: body.messages, ...ollamaSamplingOptions(body) };
}

/** Ollama's /api/generate applies the chat template unless `raw` is set. */
export function fromOllamaGenerate(body: OllamaGenerateBody): GenerateRequest {
  const sampling = ollamaSamplingOptions(body);
  if (body.raw) return { model: body.model, prompt: body.prompt, ...sampling };
  const messages: ChatMessage[] = [];
  if (body.system) messages.push({ role: 'system', content: body.system });
  messages.push({ role: 'user', content: body.prompt });
  return { model: body.model, messages, ...sampling };
}
