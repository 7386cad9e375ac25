// The one definition of a lost request (test/e2e/support/faults.ts), as every fault test and
// `npm run chaos` count it, and the table the fault tests store.
import { describe, expect, it } from 'vitest';
import { TitanError } from '../../../client/titan-client.ts';
import { classify, finishes, routesAfterDetection, textOf } from '../../e2e/support/faults.ts';
import { faultsTable } from '../../e2e/support/store.ts';

const reference = '1, 2, 3, 4, 5';

describe('classify', () => {
  it.each([
    ['finished, text identical', { finished: true, text: reference }, { kind: 'completed' }],
    ['finished, no reference known', { finished: true, text: 'x' }, { kind: 'completed' }],
    ['no finish', { finished: false, text: reference }, { kind: 'lost', why: 'no finish' }],
    ['truncated', { finished: true, text: '1, 2, 3' }, { kind: 'lost', why: 'truncated' }],
    [
      'a piece delivered twice',
      { finished: true, text: '1, 2, 3, 3, 4, 5' },
      { kind: 'lost', why: 'duplicated' },
    ],
    [
      'other text',
      { finished: true, text: '1, 2, 4, 4, 5' },
      { kind: 'lost', why: 'text differs' },
    ],
    [
      'a TitanError',
      { error: new TitanError('stream_broken', 'broke') },
      { kind: 'explicit', code: 'stream_broken' },
    ],
    ['any other exception', { error: new Error('boom') }, { kind: 'lost', why: 'Error: boom' }],
  ] as const)('%s', (_name, ended, outcome) => {
    const ref = 'finished' in ended && ended.text === 'x' ? undefined : reference;
    expect(classify(ended, ref)).toEqual(outcome);
  });

  it('reads the finish and the text of OpenAI and Ollama events', () => {
    expect(finishes({ choices: [{ delta: {}, finish_reason: 'length' }] })).toBe(true);
    expect(finishes({ choices: [{ delta: { content: 'a' }, finish_reason: null }] })).toBe(false);
    expect(finishes({ message: { content: '' }, done: true })).toBe(true);
    expect(finishes({ message: { content: 'a' }, done: false })).toBe(false);
    expect(textOf({ choices: [{ delta: { content: 'a' } }] })).toBe('a');
    expect(textOf({ message: { content: 'b' }, done: false })).toBe('b');
  });
});

describe('routesAfterDetection', () => {
  const dead = 'http://127.0.0.1:1';
  const contacts = [
    { origin: dead, at: 900 }, // before detection
    { origin: dead, at: 1000 }, // at detection
    { origin: 'http://127.0.0.1:2', at: 1500 },
    { origin: dead, at: 12_000 }, // a half-open probe after the 10 s cooldown
    { origin: dead, at: 30_000 }, // after the load ended
  ];

  it('counts from detection through the end of the load, and those inside the cooldown', () => {
    expect(
      routesAfterDetection(contacts, dead, { at: 1000, by: 'breaker' }, 20_000, 10_000),
    ).toEqual({ total: 2, whileExcluded: 1 });
  });

  it('an offline agent is excluded until the load ends', () => {
    expect(
      routesAfterDetection(contacts, dead, { at: 1000, by: 'offline' }, 20_000, 10_000),
    ).toEqual({ total: 2, whileExcluded: 2 });
  });
});

it('faultsTable: one row per scenario, explicit errors and lost requests with their reasons', () => {
  const t = faultsTable({
    crash: {
      sent: 2,
      completed: 0,
      explicit: 2,
      lost: 0,
      codes: { stream_broken: 2 },
      lostWhy: {},
      latencyMs: { p50: 10, p99: 20 },
      offlineMs: 50,
    },
  });
  expect(
    faultsTable({ none: { sent: 0, latencyMs: { p50: Number.NaN, p99: Number.NaN } } }),
  ).toContain('| none | 0 |  |  |  |  |  |');
  expect(t.split('\n')[2]).toBe(
    '| crash | 2 | 0 | 2 {"stream_broken":2} | 0 | 10 / 20 | offlineMs: 50 |',
  );
});
