// Everything the runtime-agnostic app needs, injected by the Node or Workers entry point.
import type { ControlPlaneConfig } from './config.ts';
import type { Db } from './db.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { Clock, Logger } from './runtime.ts';
import type { Scheduler } from './scheduler.ts';
import type { TicketSigner } from './tickets.ts';

export interface Deps {
  db: Db;
  clock: Clock;
  signer: TicketSigner;
  config: ControlPlaneConfig;
  scheduler: Scheduler;
  log: Logger;
  /** Per-key request buckets; must outlive one request (createApp makes one if absent). */
  limiter?: RateLimiter;
  /** Ticket ids; crypto.randomUUID unless a test injects its own. */
  newId?: () => string;
}
