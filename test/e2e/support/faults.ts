// Fault-test helpers shared by test/e2e/*.test.ts and scripts/chaos.ts: the one definition of a lost
// request, request tallies, the routes a client was given, detection of a dead agent, breakers.

import { summarize as latencySummary } from '../../../bench/stats.ts';
import { TitanClient, type TitanClientOptions, TitanError } from '../../../client/titan-client.ts';
import { DEMO_MODEL, waitFor } from '../../../scripts/cluster.ts';

/**
 * How one request ended, as every fault scenario and `npm run chaos` count it:
 * - completed: the stream ended with its finish (OpenAI `finish_reason`, after which only usage and
 *   `[DONE]` follow; Ollama `done: true`) and, where the prompt's unbroken greedy answer is known,
 *   its text equals that answer;
 * - explicit: the client threw a TitanError, whose `code` says what went wrong;
 * - lost: anything else — no finish, text truncated, duplicated or otherwise changed compared with
 *   the unbroken answer, or an exception that is not a TitanError.
 */
export type Outcome =
  | { kind: 'completed' }
  | { kind: 'explicit'; code: string }
  | { kind: 'lost'; why: string };

export type Ended = { finished: boolean; text: string } | { error: unknown };

export function classify(ended: Ended, reference?: string): Outcome {
  if ('error' in ended) {
    return ended.error instanceof TitanError
      ? { kind: 'explicit', code: ended.error.code }
      : { kind: 'lost', why: String(ended.error) };
  }
  if (!ended.finished) return { kind: 'lost', why: 'no finish' };
  if (reference === undefined || ended.text === reference) return { kind: 'completed' };
  if (reference.startsWith(ended.text)) return { kind: 'lost', why: 'truncated' };
  if (ended.text.length > reference.length) return { kind: 'lost', why: 'duplicated' };
  return { kind: 'lost', why: 'text differs' };
}

/** The stream event ends the answer: OpenAI `finish_reason`, Ollama `done: true`. */
export function finishes(event: Record<string, unknown>): boolean {
  if (event.done === true) return true;
  const choice = (event.choices as { finish_reason?: string | null }[] | undefined)?.[0];
  return Boolean(choice?.finish_reason);
}

/** The answer text one stream event carries (OpenAI chat or Ollama chat). */
export function textOf(event: Record<string, unknown>): string {
  const choice = (event.choices as { delta?: { content?: string } }[] | undefined)?.[0];
  const ollama = (event.message as { content?: string } | undefined)?.content;
  return choice?.delta?.content ?? ollama ?? '';
}

/** One route the control plane gave the client: the agent's origin, and when the client asked. */
export interface Contact {
  origin: string;
  at: number;
}

/** A TitanClient whose routes (agent origin + time asked) are logged in `contacts`. */
export function recordingClient(
  baseUrl: string,
  contacts: Contact[],
  opts: Partial<TitanClientOptions> = {},
) {
  const recording: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const at = Date.now();
    const res = await fetch(input, init);
    if (url.href === new URL('/v1/route', baseUrl).href && res.ok) {
      const { agent } = (await res.clone().json()) as { agent: { url: string } };
      contacts.push({ origin: new URL(agent.url).origin, at });
    }
    return res;
  };
  return new TitanClient({ baseUrl, fetch: recording, ...opts });
}

/** Routes to `origin` asked for at or after `from` (and before `to`). */
export const routesTo = (
  contacts: Contact[],
  origin: string | undefined,
  from = 0,
  to = Infinity,
) => contacts.filter((c) => c.origin === origin && c.at >= from && c.at < to).length;

export interface Tally {
  sent: number;
  completed: number;
  explicit: number;
  /** Must stay 0 (see Outcome). */
  lost: number;
  /** Explicit errors by TitanError code. */
  codes: Record<string, number>;
  /** Lost requests by reason. */
  lostWhy: Record<string, number>;
  /** Milliseconds each request took, however it ended. */
  latencies: number[];
}

export const emptyTally = (): Tally => ({
  sent: 0,
  completed: 0,
  explicit: 0,
  lost: 0,
  codes: {},
  lostWhy: {},
  latencies: [],
});

export function count(tally: Tally, outcome: Outcome): void {
  if (outcome.kind === 'completed') tally.completed++;
  if (outcome.kind === 'explicit') {
    tally.explicit++;
    tally.codes[outcome.code] = (tally.codes[outcome.code] ?? 0) + 1;
  }
  if (outcome.kind === 'lost') {
    tally.lost++;
    tally.lostWhy[outcome.why] = (tally.lostWhy[outcome.why] ?? 0) + 1;
  }
}

/** A tally for a report line: latencies as p50/p99 instead of every value. */
export function summarize({ latencies, ...rest }: Tally) {
  const { p50, p99 } = latencySummary(latencies);
  return { ...rest, latencyMs: { p50: Math.round(p50), p99: Math.round(p99) } };
}

/** The greedy chat request the fault scenarios send (one prompt, so one unbroken answer). */
export const countRequest = (maxTokens: number) => ({
  model: DEMO_MODEL,
  messages: [{ role: 'user', content: 'Count from one to fifty.' }],
  max_tokens: maxTokens,
  temperature: 0,
});

/** Streams `body` through the client; how it ended and the text it delivered. */
export async function streamText(
  client: TitanClient,
  body: { model: string } & Record<string, unknown>,
  onText?: (pieces: number) => void,
  path = '/v1/chat/completions',
): Promise<Ended & { text: string }> {
  let text = '';
  let pieces = 0;
  let finished = false;
  try {
    for await (const event of client.stream(path, body)) {
      const piece = textOf(event);
      if (piece) {
        text += piece;
        onText?.(++pieces);
      }
      if (finishes(event)) finished = true;
    }
    return { finished, text };
  } catch (error) {
    return { error, text };
  }
}

/** The unbroken answer to `body`, taken while every agent is up; throws unless it completed. */
export async function referenceAnswer(
  client: TitanClient,
  body: { model: string } & Record<string, unknown>,
): Promise<string> {
  const ended = await streamText(client, body);
  const outcome = classify(ended);
  if (outcome.kind !== 'completed') throw new Error(`reference answer: ${JSON.stringify(outcome)}`);
  return ended.text;
}

/**
 * Streams one `countRequest(maxTokens)` and counts how it ended, its text compared with
 * `reference` (that request's unbroken answer) when given.
 */
export async function streamOnce(
  client: TitanClient,
  tally: Tally,
  opts: { maxTokens?: number; reference?: string; onFirstToken?: () => void } = {},
): Promise<Outcome> {
  tally.sent++;
  const started = performance.now();
  const ended = await streamText(client, countRequest(opts.maxTokens ?? 8), (n) => {
    if (n === 1) opts.onFirstToken?.();
  });
  tally.latencies.push(performance.now() - started);
  const outcome = classify(ended, opts.reference);
  count(tally, outcome);
  return outcome;
}

/** Runs `n` requests, `concurrency` at a time. */
export async function load(n: number, concurrency: number, one: () => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) await one();
    }),
  );
}

export interface BreakerView {
  id: string;
  state: string;
  breaker: {
    state: string;
    trips: number;
    consecutiveFailures: number;
    openedAt: string | null;
    halfOpenInMs: number | null;
  };
}

export async function agentStatus(baseUrl: string, id: string): Promise<BreakerView | undefined> {
  const s = (await (await fetch(`${baseUrl}/v1/status`)).json()) as { agents: BreakerView[] };
  return s.agents.find((a) => a.id === id);
}

export interface Detection {
  /** When the control plane knew: its breaker's openedAt, or when it was first seen offline. */
  at: number;
  by: 'breaker' | 'offline';
}

/** Waits until the control plane has detected agent `id`: its breaker open, or it offline. */
export function detection(baseUrl: string, id: string, timeoutMs = 90_000): Promise<Detection> {
  return waitFor(
    `${id} detected`,
    async (): Promise<Detection | undefined> => {
      const a = await agentStatus(baseUrl, id);
      if (a?.breaker.openedAt) return { at: Date.parse(a.breaker.openedAt), by: 'breaker' };
      return a?.state === 'offline' ? { at: Date.now(), by: 'offline' } : undefined;
    },
    timeoutMs,
  );
}

/**
 * Waits out an open breaker, then sends one probe straight to the agent (the others excluded)
 * and waits until its success report has closed the breaker.
 */
export async function closeBreaker(baseUrl: string, id: string, others: string[]) {
  await waitFor(
    `${id} breaker closed`,
    async () => {
      const a = await agentStatus(baseUrl, id);
      if (!a || a.state === 'offline') return undefined;
      if (a.breaker.state === 'closed') return true;
      if (a.breaker.state === 'open') return undefined;
      const route = await fetch(`${baseUrl}/v1/route`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: DEMO_MODEL, exclude: others }),
      });
      if (!route.ok) return undefined;
      const { agent, ticket } = (await route.json()) as { agent: { url: string }; ticket: string };
      const res = await fetch(`${agent.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ticket}` },
        body: JSON.stringify({
          model: DEMO_MODEL,
          messages: [{ role: 'user', content: 'Hi' }],
          max_tokens: 2,
        }),
      });
      await res.text();
      return undefined;
    },
    120_000,
  );
}

/**
 * Routes to a dead agent from its detection through the end of the load (`loadEnd`): all of them,
 * and those inside the breaker's first cooldown, when the control plane must send none there (after
 * it, one half-open probe at a time may go; an offline agent gets none at all).
 */
export function routesAfterDetection(
  contacts: Contact[],
  origin: string | undefined,
  detected: Detection,
  loadEnd: number,
  cooldownMs: number,
): { total: number; whileExcluded: number } {
  const total = routesTo(contacts, origin, detected.at, loadEnd);
  const excludedUntil = detected.by === 'offline' ? loadEnd : detected.at + cooldownMs;
  return {
    total,
    whileExcluded: routesTo(contacts, origin, detected.at, Math.min(loadEnd, excludedUntil)),
  };
}
