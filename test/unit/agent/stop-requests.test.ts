import { describe, expect, it } from 'vitest';
import { REPEAT_AFTER_MS, stopRequests } from '../../../agent/stop-requests.ts';

describe('stop requests', () => {
  it('the first drains, close ones are the same stop, one a second later is an operator asking again', () => {
    let t = 5_000;
    const next = stopRequests(() => t);
    expect(next()).toBe('first');
    t += 2;
    expect(next()).toBe('same');
    t += REPEAT_AFTER_MS - 3;
    expect(next()).toBe('same');
    t += 1;
    expect(next()).toBe('again');
    expect(next()).toBe('again');
  });
});
