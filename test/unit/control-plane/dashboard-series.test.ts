// The dashboard's chart columns from sparse activity buckets: aligned windows, rates per bucket
// (the current one over the part gone by), open tickets counted as 'open', gaps as zero or null.
import { describe, expect, it } from 'vitest';
import { toSeries, windowEndingAt } from '../../../control-plane/core/dashboard/series.ts';
import { OUTCOMES } from '../../../control-plane/core/dashboard/types.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0);

describe('windowEndingAt', () => {
  it.each([
    [T0, T0 - 2 * MIN],
    [T0 + 59_999, T0 - 2 * MIN],
    [T0 + MIN, T0 - MIN],
  ])('now %d: three minute buckets from %d', (now, since) => {
    expect(windowEndingAt(now, MIN, 3)).toEqual({ since, bucketMs: MIN, buckets: 3 });
  });
});

describe('toSeries', () => {
  const w = windowEndingAt(T0 + 15_000, MIN, 3);
  const s = toSeries(
    w,
    [
      {
        start: T0 - 2 * MIN,
        issuedByState: { success: 6, error: 3 },
        completionTokens: 120,
        ttftP50Ms: 80,
        ttftP95Ms: 200,
      },
      {
        start: T0,
        issuedByState: { issued: 1, running: 2, success: 3 },
        completionTokens: 30,
        ttftP50Ms: 50,
        ttftP95Ms: 60,
      },
    ],
    T0 + 15_000,
  );

  it('has one entry per bucket, in Unix seconds', () => {
    expect(s.times).toEqual([(T0 - 2 * MIN) / 1000, (T0 - MIN) / 1000, T0 / 1000]);
    expect(Object.keys(s.requestsPerSecond)).toEqual(OUTCOMES);
  });

  it('divides a past bucket by its length and the current one by the seconds gone by', () => {
    expect(s.requestsPerSecond.success).toEqual([6 / 60, 0, 3 / 15]);
    expect(s.requestsPerSecond.error).toEqual([3 / 60, 0, 0]);
    expect(s.requestsPerSecond.open).toEqual([0, 0, 3 / 15]);
    expect(s.tokensPerSecond).toEqual([2, 0, 2]);
  });

  it('leaves TTFT empty where nothing finished', () => {
    expect(s.ttftP50Ms).toEqual([80, null, 50]);
    expect(s.ttftP95Ms).toEqual([200, null, 60]);
  });
});
