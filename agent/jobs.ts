// Job slots: at most `capacity` tickets in flight, a bounded FIFO queue behind them, draining.

export interface Job {
  readonly jti: string;
  readonly model: string;
  readonly startedAt: number;
}

interface Waiter {
  jti: string;
  model: string;
  resolve(job: Job | undefined): void;
}

export class JobTracker {
  private readonly running = new Map<string, Job>();
  private readonly waiting: Waiter[] = [];
  private idleWaiters: (() => void)[] = [];
  private drainingNow = false;

  /**
   * @param capacity jobs that run at once (one engine slot each)
   * @param now clock for `startedAt`
   * @param maxQueue requests that may wait for a slot; beyond that `acquire` refuses (429)
   */
  constructor(
    readonly capacity: number,
    private readonly now: () => number = Date.now,
    readonly maxQueue = 0,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
    if (!Number.isInteger(maxQueue) || maxQueue < 0) {
      throw new RangeError(`maxQueue must be a non-negative integer, got ${maxQueue}`);
    }
  }

  /** Set on shutdown: new work is refused, queued work is refused, in-flight work finishes. */
  get draining(): boolean {
    return this.drainingNow;
  }

  set draining(value: boolean) {
    this.drainingNow = value;
    if (value) for (const w of this.waiting.splice(0)) w.resolve(undefined);
  }

  get active(): number {
    return this.running.size;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
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
    if (this.waiting.length > 0) return undefined; // first come, first served
    return this.start(jti, model);
  }

  /**
   * Takes a slot, waiting in the queue when all are busy. Resolves undefined when the queue is
   * full, the agent drains, or `signal` aborts (the waiter leaves the queue at once).
   */
  acquire(jti: string, model: string, signal?: AbortSignal): Promise<Job | undefined> {
    const now = this.tryAcquire(jti, model);
    if (now || this.running.has(jti) || this.drainingNow || signal?.aborted) {
      return Promise.resolve(now);
    }
    if (this.waiting.length >= this.maxQueue) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(undefined);
      };
      const waiter: Waiter = {
        jti,
        model,
        resolve: (job) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(job);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release(job: Job): void {
    if (this.running.get(job.jti) !== job) return;
    this.running.delete(job.jti);
    const next = this.waiting.shift();
    if (next) {
      next.resolve(this.start(next.jti, next.model));
      return;
    }
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

  private start(jti: string, model: string): Job {
    const job: Job = { jti, model, startedAt: this.now() };
    this.running.set(jti, job);
    return job;
  }
}
