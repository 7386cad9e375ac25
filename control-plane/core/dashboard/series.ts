// Turns the store's sparse activity buckets into the dashboard's dense chart columns: requests per
// second by outcome, TTFT p50/p95 and tokens per second, one entry per bucket of the window.
import type { ActivityBucket } from '../storage/types.ts';
import { OUTCOMES, type SeriesResponse } from './types.ts';

export interface Window {
  /** The first bucket's start, a multiple of bucketMs. */
  since: number;
  bucketMs: number;
  buckets: number;
}

/** The `buckets` buckets that end with the one holding `now`, aligned on bucketMs. */
export function windowEndingAt(now: number, bucketMs: number, buckets: number): Window {
  const current = Math.floor(now / bucketMs) * bucketMs;
  return { since: current - (buckets - 1) * bucketMs, bucketMs, buckets };
}

const outcomeOf = (state: string) => (state === 'issued' || state === 'running' ? 'open' : state);

/** Rates divide by the bucket's length, or by the part of it gone by for the current bucket. */
export function toSeries(w: Window, activity: ActivityBucket[], now: number): SeriesResponse {
  const times: number[] = [];
  const requestsPerSecond: Record<string, number[]> = {};
  for (const o of OUTCOMES) requestsPerSecond[o] = [];
  const ttftP50Ms: (number | null)[] = [];
  const ttftP95Ms: (number | null)[] = [];
  const tokensPerSecond: number[] = [];
  const byStart = new Map(activity.map((b) => [b.start, b]));
  for (let i = 0; i < w.buckets; i++) {
    const start = w.since + i * w.bucketMs;
    const seconds = Math.max(1, Math.min(w.bucketMs, now - start) / 1000);
    const b = byStart.get(start);
    times.push(start / 1000);
    const counts: Record<string, number> = {};
    for (const [state, n] of Object.entries(b?.issuedByState ?? {})) {
      const o = outcomeOf(state);
      counts[o] = (counts[o] ?? 0) + n;
    }
    for (const o of OUTCOMES) requestsPerSecond[o]?.push((counts[o] ?? 0) / seconds);
    ttftP50Ms.push(b?.ttftP50Ms ?? null);
    ttftP95Ms.push(b?.ttftP95Ms ?? null);
    tokensPerSecond.push((b?.completionTokens ?? 0) / seconds);
  }
  return {
    bucketSeconds: w.bucketMs / 1000,
    times,
    requestsPerSecond,
    ttftP50Ms,
    ttftP95Ms,
    tokensPerSecond,
  };
}
