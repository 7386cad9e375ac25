// Embedded generation with log probabilities: node-llama-cpp's evaluateWithMetadata samples each
// token and reports the distribution it was drawn from (LlamaChat and LlamaCompletion do not).
import {
  type LlamaContextSequence,
  type LlamaGrammar,
  LlamaGrammarEvaluationState,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import type { LogprobEntry, TokenLogprob } from './engine.ts';

export interface LogprobsGeneration {
  sequence: LlamaContextSequence;
  model: LlamaModel;
  /** The whole prompt; the part the sequence already holds is not evaluated again. */
  prompt: readonly Token[];
  maxTokens: number;
  /** Alternatives reported per token (0 = the chosen token only). */
  top: number;
  stop: readonly string[];
  grammar?: LlamaGrammar;
  temperature: number;
  topK: number;
  topP: number;
  minP?: number;
  seed?: number;
  repeatPenalty?: { penalty?: number; frequencyPenalty?: number; presencePenalty?: number };
  signal: AbortSignal;
  /** Text as it becomes final, with the tokens behind it. */
  onPiece(text: string, logprobs: LogprobEntry[]): void;
}

export type LogprobsStop = 'eogToken' | 'customStopTrigger' | 'maxTokens' | 'abort';

/** As LlamaCompletion: the last 64 generated tokens, newlines spared, are penalised. */
const PUNISHED_TOKENS = 64;
const REPLACEMENT = '\uFFFD';
const encoder = new TextEncoder();

/**
 * Generates after `prompt` until an end-of-generation token, a stop string or maxTokens. Stop
 * strings are cut as LlamaCompletion cuts them: text that may begin one is held back until it
 * cannot; the tokens of a stop string are not reported.
 */
export async function generateWithLogprobs(
  g: LogprobsGeneration,
): Promise<{ stopReason: LogprobsStop; completionTokens: number }> {
  const { sequence, model } = g;
  const input = [...g.prompt];
  const last = input.pop();
  if (last === undefined) throw new Error('empty prompt');
  // Keep the shared prefix in the KV cache; at least one token is decoded to sample from.
  await sequence.adaptStateToTokens(input, false);
  input.push(last);
  input.splice(0, sequence.nextTokenIndex);

  const generated: Token[] = [];
  const nl = model.tokens.nl;
  // A grammar's own stop strings (node-llama-cpp's JSON grammars end on blank lines, trimmed).
  const grammarStops = (g.grammar?.stopGenerationTriggers ?? []).map(triggerText);
  const held = new StopHold([...g.stop, ...grammarStops], g.grammar?.trimWhitespaceSuffix);
  /** Tokens whose text ends inside a multi-byte character wait for the next one. */
  let partial: { tokens: Token[]; entries: LogprobEntry[] } = { tokens: [], entries: [] };
  const tokenText = (token: Token) => model.detokenize([token], false);
  const alternative = (token: Token, probability: number): TokenLogprob => {
    const text = tokenText(token);
    return { token: text, logprob: Math.log(probability), bytes: [...encoder.encode(text)] };
  };

  const iterator = sequence.evaluateWithMetadata(
    input,
    // Only the chosen token's probability unless alternatives are wanted (the full list is the
    // whole vocabulary when sampling is greedy).
    { probabilities: g.top > 0, confidence: true },
    {
      temperature: g.temperature,
      topK: g.topK,
      topP: g.topP,
      ...(g.minP !== undefined ? { minP: g.minP } : {}),
      ...(g.seed !== undefined ? { seed: g.seed } : {}),
      ...(g.grammar
        ? { grammarEvaluationState: new LlamaGrammarEvaluationState({ model, grammar: g.grammar }) }
        : {}),
      repeatPenalty: {
        punishTokens: () => generated.slice(-PUNISHED_TOKENS).filter((t) => t !== nl),
        maxPunishTokens: PUNISHED_TOKENS,
        ...g.repeatPenalty,
      },
    },
  );
  /** Unset when the model ended the answer itself (an end-of-generation token). */
  let ended: LogprobsStop | undefined;
  try {
    for await (const output of iterator) {
      const { token, confidence, probabilities } = output as {
        token: Token;
        confidence: number;
        probabilities?: Map<Token, number>;
      };
      if (g.signal.aborted) {
        ended = 'abort';
        break;
      }
      generated.push(token);
      const entry: LogprobEntry = {
        ...alternative(token, confidence),
        top: probabilities
          ? firstOf(probabilities, g.top).map(([id, p]) => alternative(id, p))
          : [],
      };
      partial.tokens.push(token);
      partial.entries.push(entry);
      const before = generated.slice(0, -partial.tokens.length);
      const text = model.detokenize(partial.tokens, false, before);
      const full = generated.length >= g.maxTokens;
      if (text.endsWith(REPLACEMENT) && !model.isSpecialToken(token) && !full) continue;
      const piece = partial;
      partial = { tokens: [], entries: [] };
      const { released, stopped } = held.add(text, piece.entries);
      for (const r of released) g.onPiece(r.text, r.entries);
      if (stopped) {
        ended = 'customStopTrigger';
        break;
      }
      if (full || sequence.nextTokenIndex >= sequence.context.contextSize - 1) {
        ended = 'maxTokens';
        break;
      }
    }
  } finally {
    await iterator.return();
  }
  const stopReason: LogprobsStop = g.signal.aborted ? 'abort' : (ended ?? 'eogToken');
  if (stopReason === 'eogToken' || stopReason === 'maxTokens') {
    for (const r of held.flush()) g.onPiece(r.text, r.entries);
  }
  return { stopReason, completionTokens: generated.length };
}

/** The first `n` entries of a map (node-llama-cpp's are sorted, most likely first). */
function firstOf<K, V>(map: Map<K, V>, n: number): [K, V][] {
  const out: [K, V][] = [];
  for (const entry of map) {
    if (out.length >= n) break;
    out.push(entry);
  }
  return out;
}

/** A stop trigger's text (special tokens in it are left out). */
function triggerText(trigger: unknown): string {
  if (typeof trigger === 'string') return trigger;
  if (Array.isArray(trigger)) return trigger.filter((t) => typeof t === 'string').join('');
  return String(trigger);
}

interface Piece {
  text: string;
  entries: LogprobEntry[];
}

/**
 * Holds back the text that could still begin a stop string (and, with `trim`, trailing
 * whitespace). `add` returns what is final; once a stop string appears, the text before it (with
 * the tokens that began before it) and `stopped`.
 */
export class StopHold {
  private pieces: Piece[] = [];

  constructor(
    private readonly stops: readonly string[],
    private readonly trim = false,
  ) {}

  add(text: string, entries: LogprobEntry[]): { released: Piece[]; stopped: boolean } {
    this.pieces.push({ text, entries });
    const pending = this.pieces.map((p) => p.text).join('');
    let at = -1;
    for (const stop of this.stops) {
      const i = pending.indexOf(stop);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0)
      return { released: this.take(this.trimmed(pending.slice(0, at)), true), stopped: true };
    // The earliest position from which the rest of the text is the start of some stop string.
    let keep = this.trimmed(pending);
    for (let i = 0; i < keep; i++) {
      const rest = pending.slice(i);
      if (this.stops.some((s) => s.startsWith(rest))) {
        keep = i;
        break;
      }
    }
    return { released: this.take(keep, false), stopped: false };
  }

  /** Whatever is held, at the end of the answer. */
  flush(): Piece[] {
    return this.take(this.trimmed(this.pieces.map((p) => p.text).join('')), true);
  }

  private trimmed(text: string): number {
    return this.trim ? text.trimEnd().length : text.length;
  }

  /** Whole pieces ending at or before `chars`; with `cut`, also the part of the one across it. */
  private take(chars: number, cut: boolean): Piece[] {
    const out: Piece[] = [];
    let offset = 0;
    while (this.pieces.length) {
      const piece = this.pieces[0] as Piece;
      const end = offset + piece.text.length;
      if (end <= chars) {
        out.push(piece);
        this.pieces.shift();
        offset = end;
        continue;
      }
      if (cut && offset < chars) {
        out.push({ text: piece.text.slice(0, chars - offset), entries: piece.entries });
      }
      break;
    }
    if (cut) this.pieces = [];
    return out.filter((p) => p.text || p.entries.length);
  }
}
