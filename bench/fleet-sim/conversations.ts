// Multi-turn chat traffic for the fleet simulation: conversations in groups that share a long system
// prompt, each turn sent after the previous answer plus think-time, the history growing each turn.
// Prefix chains are built as protocol/prefix-digest.ts builds them (a link per message, a link per
// block of a long message), with the hashes standing for the text they cover.
import type { PrefixEntry } from '../../protocol/prefix-digest.ts';
import { CHARS_PER_TOKEN, rng, type SimOptions, type SimRequest } from './sim.ts';

export interface ConversationWorkload {
  groups: number;
  conversations: number;
  turns: number;
  systemTokens: number;
  questionTokens: number;
  /** Conversations started per second (Poisson). */
  startsPerSecond: number;
  thinkMs: [number, number];
  answerTokens: [number, number];
  /** Every request a distinct prompt of the same size (no reuse possible), one turn each. */
  distinct?: boolean;
}

/** Tokens per chain link inside a long message (PREFIX_BLOCK_CHARS / CHARS_PER_TOKEN). */
const BLOCK_TOKENS = 256;

function messageLinks(chain: PrefixEntry[], id: string, tokens: number): PrefixEntry[] {
  const out = [...chain];
  let start = chain.at(-1)?.chars ?? 0;
  for (let done = 0, block = 0; done < tokens; block++) {
    const step = Math.min(BLOCK_TOKENS, tokens - done);
    done += step;
    start += step * CHARS_PER_TOKEN;
    out.push({ hash: `${id}#${block}`, chars: start });
  }
  return out;
}

const between = (r: () => number, [lo, hi]: [number, number]) => lo + r() * (hi - lo);

/** The first turns (sorted by arrival) and the follow-up that sends each next turn. */
export function conversationWorkload(
  w: ConversationWorkload,
  seed: number,
): { requests: SimRequest[]; followUp: NonNullable<SimOptions['followUp']> } {
  const r = rng(seed);
  const requests: SimRequest[] = [];
  const turns = w.distinct ? 1 : w.turns;
  let t = 0;
  for (let c = 0; c < w.conversations; c++) {
    t += (-Math.log(1 - r()) / w.startsPerSecond) * 1000;
    // A distinct workload gives each request its own system prompt: nothing to reuse.
    const system = messageLinks([], w.distinct ? `s${c}` : `g${c % w.groups}`, w.systemTokens);
    requests.push({
      arrivalMs: t,
      promptTokens: w.systemTokens + w.questionTokens,
      outputTokens: Math.round(between(r, w.answerTokens)),
      prefix: messageLinks(system, `c${c}u1`, w.questionTokens),
      conversation: { id: c, turn: 1 },
    });
  }
  const followUp = (done: SimRequest, doneMs: number): SimRequest | null => {
    const conv = done.conversation;
    if (!conv || !done.prefix || conv.turn >= turns) return null;
    const turn = conv.turn + 1;
    const withAnswer = messageLinks(done.prefix, `c${conv.id}a${conv.turn}`, done.outputTokens);
    const prefix = messageLinks(withAnswer, `c${conv.id}u${turn}`, w.questionTokens);
    return {
      arrivalMs: doneMs + between(r, w.thinkMs),
      promptTokens: done.promptTokens + done.outputTokens + w.questionTokens,
      outputTokens: Math.round(between(r, w.answerTokens)),
      prefix,
      conversation: { id: conv.id, turn },
    };
  };
  return { requests, followUp };
}
