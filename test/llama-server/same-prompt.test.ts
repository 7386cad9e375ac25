// Same request, same prompt tokens, same next-token distribution: the embedded engine (node-llama-cpp, the
// GGUF's own Jinja chat template) against a real llama-server (built by scripts/build-llama-cpp.sh)
// on the demo model, for several message shapes; and no empty answers at max_tokens 1.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  ChatMessage,
  DoneChunk,
  InferenceEngine,
  TokenLogprob,
} from '../../agent/engines/engine.ts';
import { LlamaCppEngine } from '../../agent/engines/llama-cpp.ts';
import { OpenAIUpstreamEngine } from '../../agent/engines/openai-upstream.ts';
import { DEMO_MODEL, DEMO_MODEL_PATH, type Proc, stopProcess } from '../../scripts/cluster.ts';
import { generateAll } from '../integration/support/generate.ts';
import { startLlamaServer } from './support.ts';

const CONTEXT = 1024;

let llamaServer: Proc;
let upstream: string;
let engine: LlamaCppEngine;

beforeAll(async () => {
  ({ proc: llamaServer, url: upstream } = await startLlamaServer({ slots: 1, context: CONTEXT }));
  engine = await LlamaCppEngine.create({
    modelPath: DEMO_MODEL_PATH,
    modelName: DEMO_MODEL,
    sequences: 1,
    contextSizePerSequence: CONTEXT,
    threads: 1,
  });
});

afterAll(async () => {
  await engine?.close();
  if (llamaServer) await stopProcess(llamaServer);
});

interface ServerAnswer {
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: string;
  /** The first answer token with its TOP most likely alternatives, when logprobs were asked for. */
  first?: TokenLogprob & { top: TokenLogprob[] };
}

/** One token of llama-server's own chat completion, greedy, with its 5 most likely first tokens. */
async function server(messages: ChatMessage[], maxTokens: number): Promise<ServerAnswer> {
  const res = await fetch(`${upstream}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      messages,
      max_tokens: maxTokens,
      temperature: 0,
      logprobs: true,
      top_logprobs: TOP,
    }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    choices: {
      message: { content: string };
      finish_reason: string;
      logprobs?: { content?: { token: string; logprob: number; top_logprobs: TokenLogprob[] }[] };
    }[];
    usage: { prompt_tokens: number; completion_tokens: number };
  };
  const choice = body.choices[0];
  if (!choice) throw new Error('llama-server answered no choice');
  const first = choice.logprobs?.content?.[0];
  return {
    text: choice.message.content,
    promptTokens: body.usage.prompt_tokens,
    completionTokens: body.usage.completion_tokens,
    finishReason: choice.finish_reason,
    ...(first
      ? {
          first: {
            token: first.token,
            logprob: first.logprob,
            bytes: null,
            top: first.top_logprobs,
          },
        }
      : {}),
  };
}

async function embedded(messages: ChatMessage[], maxTokens: number): Promise<ServerAnswer> {
  let first: ServerAnswer['first'];
  let text = '';
  let done: DoneChunk | undefined;
  for await (const c of engine.generate(
    { model: DEMO_MODEL, messages, maxTokens, temperature: 0, logprobs: TOP },
    { signal: new AbortController().signal },
  )) {
    if (c.type === 'token') {
      text += c.text;
      first ??= c.logprobs?.[0];
    } else if (c.type === 'done') done = c;
  }
  if (!done) throw new Error('no done chunk');
  return {
    text,
    promptTokens: done.promptTokens,
    completionTokens: done.completionTokens,
    finishReason: done.finishReason,
    ...(first ? { first } : {}),
  };
}

const SHAPES: Record<string, ChatMessage[]> = {
  'one user turn': [{ role: 'user', content: 'What is the capital of France?' }],
  'a system prompt': [
    { role: 'system', content: 'You answer in one short sentence.' },
    { role: 'user', content: 'Why is the sky blue?' },
  ],
  'several turns': [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Name a fruit.' },
    { role: 'assistant', content: 'Apple.' },
    { role: 'user', content: 'Name another one.' },
  ],
  'an assistant prefill': [
    { role: 'user', content: 'List three colours.' },
    { role: 'assistant', content: 'Here are three colours:' },
  ],
};

/**
 * The same prompt gives the same next-token distribution. Whole greedy answers are not compared:
 * node-llama-cpp's prebuilt binary and llama-server built here for this CPU round differently, so
 * near-ties fall either way a few tokens in (on an AMD EPYC they part after 2 tokens on two of these
 * shapes; issue 17, item 1). A different template or prompt moves the whole distribution of the
 * first token, which this catches: same chosen token, the same most likely alternatives, and each
 * of their log probabilities within LOGPROB_SLACK (the two builds differ by up to 0.13 here).
 */
const TOP = 5;
const LOGPROB_SLACK = 0.25;

describe('the embedded engine and llama-server, same request', () => {
  for (const [shape, messages] of Object.entries(SHAPES)) {
    it(`count the same prompt tokens and give the same first-token distribution: ${shape}`, async () => {
      const a = await server(messages, 1);
      const b = await embedded(messages, 1);
      expect(b.promptTokens).toBe(a.promptTokens);
      if (!a.first || !b.first) throw new Error('an engine answered without logprobs');
      const what = `${JSON.stringify(a.first.top)} vs ${JSON.stringify(b.first.top)}`;
      expect(b.first.token, what).toBe(a.first.token);
      expect(Math.abs(b.first.logprob - a.first.logprob), what).toBeLessThan(LOGPROB_SLACK);
      const theirs = new Map(a.first.top.map((t) => [t.token, t.logprob]));
      const shared = b.first.top.filter((t) => theirs.has(t.token));
      expect(shared.length, what).toBeGreaterThanOrEqual(TOP - 1);
      for (const t of shared)
        expect(Math.abs(t.logprob - (theirs.get(t.token) as number)), what).toBeLessThan(
          LOGPROB_SLACK,
        );
    });
  }
});

const TOPICS = ['the sea', 'bread', 'a violin', 'winter', 'rivers', 'prime numbers', 'tea', 'owls'];
const ASKS = [
  'Say one word about',
  'Describe',
  'Name a fact about',
  'Write a haiku on',
  'Why care about',
];

/** 200 distinct one-token requests: varied first tokens, some of them likely an end of turn. */
const ONE_TOKEN_PROMPTS = Array.from({ length: 200 }, (_, i): ChatMessage[] => [
  { role: 'user', content: `${ASKS[i % ASKS.length]} ${TOPICS[(i * 3) % TOPICS.length]} (#${i}).` },
]);

describe('max_tokens 1: never an empty answer', () => {
  const engines: Record<string, () => InferenceEngine> = {
    'the embedded engine': () => engine,
    'the openai engine in front of llama-server': () =>
      new OpenAIUpstreamEngine({ baseUrl: upstream, models: [DEMO_MODEL] }),
  };
  for (const [name, make] of Object.entries(engines)) {
    it(`${name}: 200 requests, each one token with finish_reason length, or an end with stop`, async () => {
      const subject = make();
      const odd: string[] = [];
      for (const messages of ONE_TOKEN_PROMPTS) {
        const { text, done } = await generateAll(subject, {
          messages,
          maxTokens: 1,
          temperature: 0,
        });
        const wellFormed =
          done.completionTokens <= 1 &&
          (done.finishReason === 'length'
            ? done.completionTokens === 1 && text !== ''
            : done.finishReason === 'stop');
        if (!wellFormed) odd.push(JSON.stringify({ messages, text, done }));
      }
      expect(odd).toEqual([]);
    });
  }
});
