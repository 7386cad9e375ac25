// What the dashboard's data endpoints (/admin/dashboard/*) answer: one home for the shapes the
// server builds and the page (control-plane/dashboard/) reads.
import type { RecordedDecision } from '../scoreboard.ts';

export const DASHBOARD_API = '/admin/dashboard';

/** Ticket states as the charts group them: the closed ones, and 'open' for issued or running. */
export const OUTCOMES = ['success', 'error', 'cancelled', 'rejected', 'expired', 'lost', 'open'];

export interface FleetAgent {
  id: string;
  url: string;
  /** healthy | degraded | draining | offline | drained */
  state: string;
  /** closed | open | half-open */
  breaker: string;
  breakerFailures: number;
  engine: string;
  version: string;
  slots: { leased: number; confirmed: number; max: number };
  models: {
    name: string;
    loaded: boolean;
    quantization: string | null;
    memoryBytes: number | null;
  }[];
  tokensPerSecond: number | null;
  memory: { accelerator: string; freeBytes: number; totalBytes: number };
  lastHeartbeatAt: string;
  lastHeartbeatAgoMs: number;
}

export interface FleetResponse {
  now: string;
  agents: FleetAgent[];
}

export interface DecisionsResponse {
  /** Decisions are kept in memory: this process's (Node) or this isolate's (Workers). */
  scope: string;
  decisions: RecordedDecision[];
}

export interface RequestRow {
  id: string;
  agentId: string;
  model: string;
  /** The client's API key id ('development' without keys), never the key. */
  client: string;
  state: string;
  issuedAt: string;
  admittedAt: string | null;
  finishedAt: string | null;
  ttftMs: number | null;
  durationMs: number | null;
  promptTokens: number | null;
  completionTokens: number | null;
  error: string | null;
}

export interface RequestsResponse {
  requests: RequestRow[];
}

/** Columns over the last hour, one entry per bucket (uPlot's data layout). */
export interface SeriesResponse {
  bucketSeconds: number;
  /** Bucket starts, Unix seconds. */
  times: number[];
  /** Requests issued per second, by outcome (OUTCOMES). */
  requestsPerSecond: Record<string, number[]>;
  ttftP50Ms: (number | null)[];
  ttftP95Ms: (number | null)[];
  /** Completion tokens per second, all agents together. */
  tokensPerSecond: number[];
}
