// Stop requests: the first one drains; one that comes REPEAT_AFTER_MS or more later is an
// operator's second Ctrl-C and skips the drain. Closer ones are the same stop delivered by several
// senders: a terminal's Ctrl-C signals the whole process group, and `npm start`, the supervisor
// or systemd pass the stop on as well, all within milliseconds.
export const REPEAT_AFTER_MS = 1000;

export type StopRequest = 'first' | 'same' | 'again';

/** Classifies each stop request a receiver gets, by when it arrives. */
export function stopRequests(now: () => number = Date.now): () => StopRequest {
  let first: number | undefined;
  return () => {
    const t = now();
    if (first === undefined) {
      first = t;
      return 'first';
    }
    return t - first < REPEAT_AFTER_MS ? 'same' : 'again';
  };
}
