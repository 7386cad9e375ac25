// Backpressure with a deadline: a client that stops reading its stream loses it (and its slot).

/** How long one write may wait for the client to read before the stream is dropped. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

export class StreamStalledError extends Error {
  override readonly name = 'StreamStalledError';
}

/**
 * Awaits `write` (which resolves only once the client has taken the previous bytes); if that
 * takes longer than `timeoutMs`, calls `onStall` (abort the response, cancel the job) and throws.
 */
export async function writeWithin(
  write: Promise<unknown>,
  timeoutMs: number,
  onStall: () => void,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<'stalled'>((resolve) => {
    timer = setTimeout(() => resolve('stalled'), timeoutMs);
  });
  try {
    if ((await Promise.race([write, stalled])) === 'stalled') {
      onStall();
      throw new StreamStalledError(`client read nothing for ${timeoutMs} ms`);
    }
  } finally {
    clearTimeout(timer);
  }
}
