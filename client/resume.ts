// Resuming a broken stream on another agent: the request is sent again with the text generated so
// far as a prefill (a trailing assistant message, or the raw prompt extended), so the new agent
// continues where the old one stopped and no token reaches the caller twice.
import { INFERENCE_PATHS } from '../protocol/dialects.ts';

type Body = Record<string, unknown>;

/** How one endpoint's stream carries text, how it ends, and how to ask for the rest. */
export interface ResumePlan {
  /** The generated text one stream event carries ('' for none). */
  textOf(event: Body): string;
  /** The event says the answer is complete (what follows is bookkeeping: usage, [DONE]). */
  finishes(event: Body): boolean;
  /** The request for the rest of the answer, or undefined when nothing is left to generate. */
  rest(generated: string, events: number): Body | undefined;
}

type Message = { role?: unknown; content?: unknown };

const str = (v: unknown) => (typeof v === 'string' ? v : '');
const firstChoice = (e: Body) => (e.choices as Body[] | undefined)?.[0];

/** Messages with `generated` appended to the answer: a trailing assistant message is extended. */
function prefilled(messages: unknown, generated: string): Message[] | undefined {
  if (!Array.isArray(messages)) return undefined;
  const last = messages.at(-1) as Message | undefined;
  if (last?.role === 'assistant' && typeof last.content === 'string') {
    return [...messages.slice(0, -1), { ...last, content: last.content + generated }];
  }
  return [...messages, { role: 'assistant', content: generated }];
}

/** `limit` minus what was generated; undefined (no limit) stays undefined, 0 means done. */
function remaining(limit: unknown, events: number): number | undefined | 0 {
  if (typeof limit !== 'number' || limit < 0) return undefined;
  return Math.max(0, limit - events);
}

/**
 * Lowers an OpenAI token limit by what was generated. Each stream event carries at most one
 * token's text, or a few tokens when they only together form a character, so counting events can
 * only leave the limit a little high, never cut the answer short.
 */
function openAILimits(body: Body, events: number): Body | undefined {
  const out: Body = {};
  for (const key of ['max_tokens', 'max_completion_tokens']) {
    const left = remaining(body[key], events);
    if (left === 0) return undefined;
    if (left !== undefined) out[key] = left;
  }
  return out;
}

function ollamaOptions(body: Body, events: number): Body | undefined {
  const options = (body.options ?? {}) as Body;
  const left = remaining(options.num_predict, events);
  if (left === 0) return undefined;
  return left === undefined ? options : { ...options, num_predict: left };
}

/**
 * The plan for `path`, or undefined where the API has no way to continue an answer: Ollama's
 * templated /api/generate (only `raw` prompts can be extended) and multi-choice requests.
 */
export function resumePlan(path: string, body: Body): ResumePlan | undefined {
  if (typeof body.n === 'number' && body.n !== 1) return undefined;
  // A grammar starts at the answer's first character: a continued JSON answer would not parse.
  if (isSet(body.response_format) || isSet(body.format)) return undefined;
  // A call broken off mid-arguments cannot be continued as text either.
  if (offersTools(body)) return undefined;
  switch (path) {
    case INFERENCE_PATHS.openAIChat:
      return {
        textOf: (e) => str((firstChoice(e)?.delta as Body | undefined)?.content),
        finishes: (e) => Boolean(firstChoice(e)?.finish_reason),
        rest(generated, events) {
          const limits = openAILimits(body, events);
          const messages = prefilled(body.messages, generated);
          return limits && messages ? { ...body, ...limits, messages } : undefined;
        },
      };
    case INFERENCE_PATHS.openAICompletion:
      return typeof body.prompt !== 'string'
        ? undefined
        : {
            textOf: (e) => str(firstChoice(e)?.text),
            finishes: (e) => Boolean(firstChoice(e)?.finish_reason),
            rest(generated, events) {
              const limits = openAILimits(body, events);
              return limits && { ...body, ...limits, prompt: `${body.prompt}${generated}` };
            },
          };
    case INFERENCE_PATHS.ollamaChat:
      return {
        textOf: (e) => str((e.message as Body | undefined)?.content),
        finishes: (e) => e.done === true,
        rest(generated, events) {
          const options = ollamaOptions(body, events);
          const messages = prefilled(body.messages, generated);
          return options && messages ? { ...body, options, messages } : undefined;
        },
      };
    case INFERENCE_PATHS.ollamaGenerate:
      return body.raw !== true || typeof body.prompt !== 'string'
        ? undefined
        : {
            textOf: (e) => str(e.response),
            finishes: (e) => e.done === true,
            rest(generated, events) {
              const options = ollamaOptions(body, events);
              return options && { ...body, options, prompt: `${body.prompt}${generated}` };
            },
          };
    default:
      return undefined;
  }
}

/** The model may call a function: a non-empty `tools` list and a `tool_choice` other than none. */
function offersTools(body: Body): boolean {
  return Array.isArray(body.tools) && body.tools.length > 0 && body.tool_choice !== 'none';
}

/** A structured-output field that asks for a constraint (not absent, null, "" or type text). */
function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  return !(typeof value === 'object' && (value as Body).type === 'text');
}
