// The scoreboard's recent decisions (the dashboard's list): newest first, the RECENT_DECISIONS
// latest only, plain data (ranked ids with scores, exclusions with reasons), a refusal kept with
// no chosen agent.
import { expect, it } from 'vitest';
import type { Decision } from '../../../control-plane/core/scheduler/types.ts';
import { RECENT_DECISIONS, Scoreboard } from '../../../control-plane/core/scoreboard.ts';
import { view } from './scheduler/view.ts';

const decision = (ranked: string[], excluded: string[] = []): Decision => ({
  policy: 'mcda',
  ranked: ranked.map((id, i) => ({ agent: view(id), score: 1 - i / 10, components: { slots: 1 } })),
  candidates: ranked.length,
  excluded: excluded.map((agentId) => ({ agentId, filter: 'live', reason: 'offline' })),
});

it('keeps the latest decisions, newest first, as plain data', () => {
  const board = new Scoreboard();
  board.record(decision(['a', 'b'], ['c']), 'm', 1, { requestId: 'r1', chosen: 'a' });
  board.record(decision([], ['a', 'b', 'c']), 'm', 2, { requestId: 'r2', chosen: null });
  expect(board.recent()).toEqual([
    {
      at: 2,
      requestId: 'r2',
      model: 'm',
      policy: 'mcda',
      chosen: null,
      ranked: [],
      excluded: ['a', 'b', 'c'].map((agentId) => ({ agentId, filter: 'live', reason: 'offline' })),
    },
    {
      at: 1,
      requestId: 'r1',
      model: 'm',
      policy: 'mcda',
      chosen: 'a',
      ranked: [
        { agentId: 'a', score: 1, components: { slots: 1 } },
        { agentId: 'b', score: 0.9, components: { slots: 1 } },
      ],
      excluded: [{ agentId: 'c', filter: 'live', reason: 'offline' }],
    },
  ]);
});

it(`forgets all but the ${RECENT_DECISIONS} latest`, () => {
  const board = new Scoreboard();
  for (let i = 0; i < RECENT_DECISIONS + 7; i++) {
    board.record(decision(['a']), 'm', i, { requestId: `r${i}`, chosen: 'a' });
  }
  const kept = board.recent();
  expect(kept).toHaveLength(RECENT_DECISIONS);
  expect(kept[0]?.requestId).toBe(`r${RECENT_DECISIONS + 6}`);
  expect(kept.at(-1)?.requestId).toBe('r7');
});
