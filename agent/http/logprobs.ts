// Log probabilities in each dialect's shape: OpenAI chat (`logprobs.content`), OpenAI legacy
// completions (`tokens`/`token_logprobs`/`top_logprobs`/`text_offset`) and Ollama (`logprobs`).
import type { LogprobEntry, TokenLogprob } from '../engines/engine.ts';

/** OpenAI reports a token too unlikely to measure as -9999 (JSON has no -Infinity). */
const FLOOR = -9999;

const logprobOf = (t: TokenLogprob) => Math.max(t.logprob, FLOOR);

function tokenOf(t: TokenLogprob) {
  return { token: t.token, logprob: logprobOf(t), bytes: t.bytes };
}

/** A chat choice's (or delta's) `logprobs`. */
export function chatLogprobs(entries: readonly LogprobEntry[]) {
  return {
    content: entries.map((e) => ({ ...tokenOf(e), top_logprobs: e.top.map(tokenOf) })),
    refusal: null,
  };
}

/** A completion choice's `logprobs`; `offset` is where the first token starts in the answer. */
export function completionLogprobs(entries: readonly LogprobEntry[], offset = 0) {
  const text_offset: number[] = [];
  let at = offset;
  for (const e of entries) {
    text_offset.push(at);
    at += e.token.length;
  }
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map(logprobOf),
    top_logprobs: entries.map((e) => Object.fromEntries(e.top.map((t) => [t.token, logprobOf(t)]))),
    text_offset,
  };
}

/** Ollama's `logprobs` list, as its /api/chat and /api/generate send it. */
export function ollamaLogprobs(entries: readonly LogprobEntry[]) {
  return entries.map((e) => ({ ...tokenOf(e), top_logprobs: e.top.map(tokenOf) }));
}
