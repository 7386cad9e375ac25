// Reading typed values from the flat string map settings come from (process.env, Worker vars).

export type ConfigSource = Record<string, string | undefined>;

/** Parses "30s", "500ms", "5m" or a bare number of seconds into milliseconds. */
export function parseDuration(
  value: string | undefined,
  fallbackMs: number,
  name = 'value',
): number {
  if (value === undefined || value.trim() === '') return fallbackMs;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!m) throw new Error(`${name}: cannot parse duration "${value}" (use e.g. 30s, 500ms, 5m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

/** A positive integer setting, or the fallback when unset. */
export function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new Error(`${name} must be a positive integer, got "${value}"`);
  }
  return n;
}
