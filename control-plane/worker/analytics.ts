// The core's events (core/events.ts) as Workers Analytics Engine data points, one layout for all
// (docs/operations.md has it, with the SQL API queries): Prometheus scraping does not fit a
// Worker, whose isolates come and go. Without the binding nothing is written and the Worker runs.
import type { AnalyticsEngineDataset } from '@cloudflare/workers-types';
import type { ControlPlaneEvent, EventSink } from '../core/events.ts';
import { noEvents } from '../core/events.ts';

/**
 * The data points of one event, all in one layout: index1 and blob1 the event type (a decision
 * adds one `exclusion` point per filter); blob2 agent, blob3 model, blob4 outcome (the decision's
 * outcome, the lease change, the breaker's new state, the job outcome, why a heartbeat was
 * written), blob5 policy (decision), filter (exclusion) or the breaker's old state; double1 a
 * count; double2 TTFT ms (job; -1: no token), ms since the last recorded heartbeat, or the
 * decision's candidates; double3 duration ms (job); double4, double5 tokens in, out (job).
 */
export function dataPoints(e: ControlPlaneEvent): {
  indexes: string[];
  blobs: string[];
  doubles: number[];
}[] {
  const point = (blobs: string[], doubles: number[]) => ({
    indexes: [blobs[0] ?? e.type],
    blobs,
    doubles,
  });
  switch (e.type) {
    case 'decision':
      return [
        point(['decision', e.agent ?? '', e.model, e.outcome, e.policy], [1, e.candidates]),
        ...Object.entries(e.excludedBy).map(([filter, n]) =>
          point(['exclusion', '', e.model, 'excluded', filter], [n]),
        ),
      ];
    case 'lease':
      return [point(['lease', e.agent ?? '', '', e.change, ''], [e.count])];
    case 'breaker':
      return [point(['breaker', e.agent, '', e.to, e.from], [1])];
    case 'job':
      return [
        point(
          ['job', e.agent, e.model, e.outcome, ''],
          [1, e.ttftMs ?? -1, e.durationMs, e.tokensIn, e.tokensOut],
        ),
      ];
    case 'heartbeat':
      // Only heartbeats the database records (coalesced, ADR 0003): one per agent per
      // LIVENESS_WRITE_INTERVAL at least, not one per HEARTBEAT_INTERVAL.
      return e.written === null
        ? []
        : [point(['heartbeat', e.agent, '', e.written, ''], [1, e.sinceLastMs])];
  }
}

/** A sink over the `EVENTS` binding, or no sink when the deployment has none. */
export function analyticsEvents(dataset: unknown): EventSink {
  const ds = dataset as Partial<AnalyticsEngineDataset> | undefined;
  const write = ds?.writeDataPoint;
  if (typeof write !== 'function') return noEvents;
  return {
    emit(e) {
      for (const p of dataPoints(e)) {
        try {
          write.call(ds, p);
        } catch {
          // Analytics never fail a request.
        }
      }
    },
  };
}
