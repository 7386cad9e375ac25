// StopHold, the stop-string cut of the embedded engine's logprobs generation: text that may begin
// a stop string waits; the answer ends before the stop string, with the tokens that began before it.
import { describe, expect, it } from 'vitest';
import type { LogprobEntry } from '../../../../agent/engines/engine.ts';
import { StopHold } from '../../../../agent/engines/llama-logprobs.ts';

const entry = (token: string): LogprobEntry => ({ token, logprob: -1, bytes: [], top: [] });

/** Feeds tokens one by one; the text released, the tokens released, and whether it stopped. */
function feed(hold: StopHold, tokens: string[], flush = true) {
  let text = '';
  const released: string[] = [];
  for (const t of tokens) {
    const out = hold.add(t, [entry(t)]);
    for (const p of out.released) {
      text += p.text;
      released.push(...p.entries.map((e) => e.token));
    }
    if (out.stopped) return { text, released, stopped: true };
  }
  if (flush) {
    for (const p of hold.flush()) {
      text += p.text;
      released.push(...p.entries.map((e) => e.token));
    }
  }
  return { text, released, stopped: false };
}

describe('StopHold', () => {
  it('cuts at a stop string spread over tokens', () => {
    expect(feed(new StopHold(['END']), ['one', ' E', 'N', 'D', ' more'])).toEqual({
      text: 'one ',
      released: ['one', ' E'],
      stopped: true,
    });
  });

  it('releases held text that turned out not to be a stop string', () => {
    const hold = new StopHold(['END']);
    expect(hold.add('one E', [entry('one E')]).released).toEqual([]);
    expect(feed(hold, ['nd'])).toMatchObject({ text: 'one End', stopped: false });
  });

  it('without stop strings releases every token at once', () => {
    const hold = new StopHold([]);
    expect(hold.add('a', [entry('a')]).released).toEqual([{ text: 'a', entries: [entry('a')] }]);
  });

  it('with trim, holds trailing whitespace and drops it at the end', () => {
    expect(feed(new StopHold(['\n\n\n\n'], true), ['{}', '\n', '\n', '\n', '\n'])).toEqual({
      text: '{}',
      released: ['{}'],
      stopped: true,
    });
    expect(feed(new StopHold([], true), ['a', ' ', 'b', ' '])).toMatchObject({ text: 'a b' });
  });
});
