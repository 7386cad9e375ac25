// Capped exponential backoff for restarting a crashed process (the agent process under its
// supervisor, ADR 0007; a managed llama-server under its agent, ADR 0019), and exit statuses.
import { constants } from 'node:os';

export interface RestartOptions {
  restartDelayMs: number;
  restartMaxDelayMs: number;
  restartLimit: number;
  restartWindowMs: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The status a shell reports: the exit code, or 128 + the signal number. */
export function exitStatus(e: ExitStatus): number {
  if (e.signal) return 128 + (constants.signals[e.signal] ?? 0);
  return e.code ?? 1;
}

export type RestartDecision =
  | { restart: true; delayMs: number; crashesInWindow: number }
  | { restart: false; crashesInWindow: number };

/**
 * Capped exponential backoff over the crashes of the last `restartWindowMs`: the n-th crash in
 * the window waits restartDelayMs × 2^(n−1) (at most restartMaxDelayMs); crash number
 * restartLimit + 1 in the window gives up. A crash older than the window is forgiven.
 */
export class RestartPolicy {
  private crashes: number[] = [];

  constructor(private readonly o: RestartOptions) {}

  onCrash(now: number): RestartDecision {
    this.crashes = this.crashes.filter((t) => now - t < this.o.restartWindowMs);
    this.crashes.push(now);
    const n = this.crashes.length;
    if (n > this.o.restartLimit) return { restart: false, crashesInWindow: n };
    const delayMs = Math.min(this.o.restartMaxDelayMs, this.o.restartDelayMs * 2 ** (n - 1));
    return { restart: true, delayMs, crashesInWindow: n };
  }
}
