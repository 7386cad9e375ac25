// Fault-test helpers: a fetch that records which agent was contacted, request tallies, breakers.

import { summarize as latencySummary } from '../../../bench/stats.ts';
import { TitanClient, type TitanClientOptions, TitanError } from '../../../client/titan-client.ts';
import { DEMO_MODEL, waitFor } from '../../../scripts/cluster.ts';

export interface Contact {
  origin: string;
  at: number;
}

/** A TitanClient whose agent calls are logged (origin + time) in `contacts`. */
export function recordingClient(
  baseUrl: string,
  contacts: Contact[],
  opts: Partial<TitanClientOptions> = {},
) {
  const cp = new URL(baseUrl).origin;
  const recording: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    if (url.origin !== cp) contacts.push({ origin: url.origin, at: Date.now() });
    return fetch(input, init);
  };
  return new TitanClient({ baseUrl, fetch: recording, ...opts });
}

export interface Tally {
  sent: number;
  completed: number;
  /** Ended with an explicit TitanError (machine-readable code). */
  explicit: number;
  /** Anything else: a silent truncation, an unexpected exception. Must stay 0. */
  lost: number;
  codes: Record<string, number>;
  /** Milliseconds each request took, however it ended. */
  latencies: number[];
}

export const emptyTally = (): Tally => ({
  sent: 0,
  completed: 0,
  explicit: 0,
  lost: 0,
  codes: {},
  latencies: [],
});

/** A tally for a report line: latencies as p50/p99 instead of every value. */
export function summarize({ latencies, ...rest }: Tally) {
  const { p50, p99 } = latencySummary(latencies);
  return { ...rest, latencyMs: { p50: Math.round(p50), p99: Math.round(p99) } };
}

/** Streams one chat completion through the client and classifies how it ended. */
export async function streamOnce(
  client: TitanClient,
  tally: Tally,
  maxTokens = 8,
  onFirstToken?: () => void,
): Promise<void> {
  tally.sent++;
  const started = performance.now();
  let tokens = 0;
  let finished = false;
  try {
    for await (const event of client.stream('/v1/chat/completions', {
      model: DEMO_MODEL,
      messages: [{ role: 'user', content: 'Count from one to fifty.' }],
      max_tokens: maxTokens,
    })) {
      const choice = (
        event.choices as { delta?: { content?: string }; finish_reason?: string }[]
      )?.[0];
      if (choice?.delta?.content) {
        tokens++;
        if (tokens === 1) onFirstToken?.();
      }
      if (choice?.finish_reason) finished = true;
    }
    if (finished) tally.completed++;
    else tally.lost++;
  } catch (err) {
    if (err instanceof TitanError) {
      tally.explicit++;
      tally.codes[err.code] = (tally.codes[err.code] ?? 0) + 1;
    } else {
      tally.lost++;
      tally.codes[String(err)] = (tally.codes[String(err)] ?? 0) + 1;
    }
  } finally {
    tally.latencies.push(performance.now() - started);
  }
}

/** Runs `n` requests, `concurrency` at a time. */
export async function load(n: number, concurrency: number, one: () => Promise<void>) {
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
