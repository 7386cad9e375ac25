// Everything the runtime-agnostic app needs, injected by the Node or Workers entry point.
import type { MiddlewareHandler } from 'hono';
import type { ControlPlaneConfig } from './config.ts';
import type { CredentialCache } from './credential-cache.ts';
import type { EventSink } from './events.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { Clock, Logger } from './runtime.ts';
import type { Policy } from './scheduler/types.ts';
import type { Scoreboard } from './scoreboard.ts';
import type { Store } from './storage/types.ts';
import type { TicketSigner } from './tickets.ts';
import type { ViewCache } from './view-cache.ts';

/** Prometheus metrics (Node): counts every request, renders the exposition text (GET /metrics). */
export interface MetricsPort {
  middleware: MiddlewareHandler;
  render(): Promise<{ contentType: string; body: string }>;
}

export interface Deps {
  store: Store;
  clock: Clock;
  signer: TicketSigner;
  config: ControlPlaneConfig;
  scheduler: Policy;
  log: Logger;
  scoreboard?: Scoreboard;
  /** In-process copy of agent views (VIEW_CACHE_TTL); absent: every decision reads the database. */
  views?: ViewCache;
  /**
   * Agent credentials verified in this process (Node); absent: every agent call reads the
   * database (Workers, whose isolates cannot invalidate each other's copies).
   */
  credentials?: CredentialCache;
  /** Per-key request buckets; must outlive one request (createApp makes one if absent). */
  limiter?: RateLimiter;
  /** Serves GET /metrics when present (the Node entry), behind METRICS_TOKEN. */
  metrics?: MetricsPort;
  /** Decisions, leases, breakers, jobs, heartbeats: Prometheus on Node, Analytics Engine on Workers. */
  events?: EventSink;
  /** Ticket ids; crypto.randomUUID unless a test injects its own. */
  newId?: () => string;
}

/** What the admin routes use. */
export type AdminDeps = Pick<Deps, 'store' | 'clock' | 'config' | 'log' | 'views' | 'scoreboard'>;
