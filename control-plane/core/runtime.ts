// Small ports every runtime provides: a clock and a structured logger.
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/**
 * One JSON object per line on the console: readable by people and by log pipelines. Lines about a
 * request carry its `requestId` (the ticket id, the agent's too).
 */
export function jsonLogger(base: LogFields = {}, clock: Clock = systemClock): Logger {
  const emit = (level: string, msg: string, fields?: LogFields) => {
    const time = new Date(clock.now()).toISOString();
    const line = JSON.stringify({ time, level, msg, ...base, ...fields });
    if (level === 'error') console.error(line);
    else console.log(line);
  };
  return {
    info: (msg, f) => emit('info', msg, f),
    warn: (msg, f) => emit('warn', msg, f),
    error: (msg, f) => emit('error', msg, f),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
