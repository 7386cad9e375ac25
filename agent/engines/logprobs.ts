// Log probabilities as upstream servers send them (OpenAI chat `logprobs.content`, the legacy
// completions lists, Ollama's `logprobs`), read into the engine boundary's LogprobEntry.
import type { LogprobEntry, TokenLogprob } from './engine.ts';

const encoder = new TextEncoder();

interface WireToken {
  token?: unknown;
  logprob?: unknown;
  bytes?: unknown;
  top_logprobs?: unknown;
}

function tokenOf(t: WireToken): TokenLogprob {
  const token = typeof t.token === 'string' ? t.token : '';
  const bytes =
    Array.isArray(t.bytes) && t.bytes.every((b) => typeof b === 'number')
      ? (t.bytes as number[])
      : [...encoder.encode(token)];
  return { token, logprob: typeof t.logprob === 'number' ? t.logprob : -9999, bytes };
}

/** `[{token, logprob, bytes, top_logprobs: [...]}]`: OpenAI chat's `content`, and Ollama's list. */
export function fromTokenList(list: unknown): LogprobEntry[] {
  if (!Array.isArray(list)) return [];
  return list.map((item: WireToken) => ({
    ...tokenOf(item),
    top: Array.isArray(item.top_logprobs) ? item.top_logprobs.map(tokenOf) : [],
  }));
}

/**
 * A choice's `logprobs` from `/v1/chat/completions` or `/v1/completions`: `{content: [...]}`
 * (OpenAI chat, and llama-server for both), or the legacy `{tokens, token_logprobs, top_logprobs}`.
 */
export function fromChoiceLogprobs(logprobs: unknown): LogprobEntry[] {
  if (!logprobs || typeof logprobs !== 'object') return [];
  const lp = logprobs as {
    content?: unknown;
    tokens?: unknown;
    token_logprobs?: unknown;
    top_logprobs?: unknown;
  };
  if (Array.isArray(lp.content)) return fromTokenList(lp.content);
  if (!Array.isArray(lp.tokens)) return [];
  const tops = Array.isArray(lp.top_logprobs) ? lp.top_logprobs : [];
  const values = Array.isArray(lp.token_logprobs) ? lp.token_logprobs : [];
  return lp.tokens.map((token, i) => {
    const top = tops[i] && typeof tops[i] === 'object' ? Object.entries(tops[i]) : [];
    return {
      ...tokenOf({ token, logprob: values[i] }),
      top: top.map(([t, logprob]) => tokenOf({ token: t, logprob })),
    };
  });
}
