// What the control plane tells its metrics: plain events emitted by core code through one port
// (Deps.events). Node counts them in a Prometheus registry (node/metrics.ts); Workers write them
// to Workers Analytics Engine (worker/analytics.ts). Labels stay bounded: agent ids, model
// names, policy, filter and outcome names (docs/adr/0016).

/** How a slot lease (a ticket, ADR 0009) moved. */
export type LeaseChange = 'taken' | 'confirmed' | 'refused' | 'released' | 'lost' | 'expired';

export type ControlPlaneEvent =
  /** One routing decision: `routed` took a lease, `no_agent` answered 503. */
  | {
      type: 'decision';
      policy: string;
      model: string;
      outcome: 'routed' | 'no_agent';
      /** The agent that took the lease (routed), else null. */
      agent: string | null;
      candidates: number;
      /** Agents left out, counted by the filter that excluded them. */
      excludedBy: Record<string, number>;
    }
  | { type: 'lease'; change: LeaseChange; agent: string | null; count: number }
  /** A circuit breaker moved between closed, open and half-open. */
  | { type: 'breaker'; agent: string; from: string; to: string }
  /** An agent's job report that closed its ticket. */
  | {
      type: 'job';
      agent: string;
      model: string;
      outcome: string;
      ttftMs: number | undefined;
      durationMs: number;
      tokensIn: number;
      tokensOut: number;
    }
  /**
   * A heartbeat received: `sinceLastMs` since the agent's last recorded heartbeat (recorded ones
   * are coalesced, ADR 0003), `written` why this one was written (null: not written).
   */
  | { type: 'heartbeat'; agent: string; sinceLastMs: number; written: string | null };

export interface EventSink {
  emit(event: ControlPlaneEvent): void;
}

/** Where nobody listens (tests, the admin CLI). */
export const noEvents: EventSink = { emit() {} };
