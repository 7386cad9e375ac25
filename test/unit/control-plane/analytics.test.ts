// The Worker's events as Analytics Engine data points: one layout (docs/operations.md), exclusions
// one point per filter, only recorded heartbeats, and no binding means no writes and no error.
import { describe, expect, it } from 'vitest';
import { analyticsEvents, dataPoints } from '../../../control-plane/worker/analytics.ts';

describe('Analytics Engine events', () => {
  it('writes a decision and one point per excluding filter', () => {
    expect(
      dataPoints({
        type: 'decision',
        policy: 'mcda',
        model: 'm',
        outcome: 'routed',
        agent: 'a-1',
        candidates: 2,
        excludedBy: { memory: 3, breaker: 1 },
      }),
    ).toEqual([
      { indexes: ['decision'], blobs: ['decision', 'a-1', 'm', 'routed', 'mcda'], doubles: [1, 2] },
      { indexes: ['exclusion'], blobs: ['exclusion', '', 'm', 'excluded', 'memory'], doubles: [3] },
      {
        indexes: ['exclusion'],
        blobs: ['exclusion', '', 'm', 'excluded', 'breaker'],
        doubles: [1],
      },
    ]);
  });

  it('writes job reports with TTFT (-1 without a token), duration and tokens', () => {
    const job = {
      type: 'job' as const,
      agent: 'a-1',
      model: 'm',
      outcome: 'error',
      ttftMs: undefined,
      durationMs: 40,
      tokensIn: 12,
      tokensOut: 0,
    };
    expect(dataPoints(job)).toEqual([
      { indexes: ['job'], blobs: ['job', 'a-1', 'm', 'error', ''], doubles: [1, -1, 40, 12, 0] },
    ]);
    expect(dataPoints({ ...job, outcome: 'success', ttftMs: 55 })[0]?.doubles).toEqual([
      1, 55, 40, 12, 0,
    ]);
  });

  it('writes recorded heartbeats only', () => {
    const beat = { type: 'heartbeat' as const, agent: 'a-1', sinceLastMs: 15_000 };
    expect(dataPoints({ ...beat, written: null })).toEqual([]);
    expect(dataPoints({ ...beat, written: 'liveness' })).toEqual([
      {
        indexes: ['heartbeat'],
        blobs: ['heartbeat', 'a-1', '', 'liveness', ''],
        doubles: [1, 15_000],
      },
    ]);
  });

  it('writes through the binding; without one, or when it throws, nothing fails', () => {
    const written: unknown[] = [];
    const sink = analyticsEvents({ writeDataPoint: (p: unknown) => written.push(p) });
    sink.emit({ type: 'breaker', agent: 'a-1', from: 'closed', to: 'open' });
    expect(written).toEqual([
      { indexes: ['breaker'], blobs: ['breaker', 'a-1', '', 'open', 'closed'], doubles: [1] },
    ]);
    const lease = { type: 'lease' as const, change: 'expired' as const, agent: null, count: 2 };
    expect(() => analyticsEvents(undefined).emit(lease)).not.toThrow();
    const broken = analyticsEvents({
      writeDataPoint: () => {
        throw new Error('quota');
      },
    });
    expect(() => broken.emit(lease)).not.toThrow();
  });
});
