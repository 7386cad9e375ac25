// Job slots: at most maxConcurrentJobs tickets in flight, plus draining for graceful shutdown.

export interface Job {
  readonly jti: string;
  readonly model: string;
  readonly startedAt: number;
}

export class JobTracker {
  private readonly running = new Map<string, Job>();
  private idleWaiters: (() => void)[] = [];
  /** Set on shutdown: new work is refused, in-flight work finishes. */
  draining = false;

  constructor(
    readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
  }

  get active(): number {
    return this.running.size;
  }

  /** jti of every job in flight. */
  runningJobs(): string[] {
    return [...this.running.keys()];
  }

  jobs(): Job[] {
    return [...this.running.values()];
  }

  /** Takes a slot, or returns undefined when all are busy (or the jti already runs). */
  tryAcquire(jti: string, model: string): Job | undefined {
    if (this.running.size >= this.capacity || this.running.has(jti)) return undefined;
    const job: Job = { jti, model, startedAt: this.now() };
    this.running.set(jti, job);
    return job;
  }

  release(job: Job): void {
    if (this.running.get(job.jti) !== job) return;
    this.running.delete(job.jti);
    if (this.running.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves true once no job runs, or false after `timeoutMs`. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.running.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      this.idleWaiters.push(wake);
    });
  }
}
