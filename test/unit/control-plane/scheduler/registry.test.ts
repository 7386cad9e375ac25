// Extension by addition: a scorer or filter declared here, in the test, and registered through the
// public functions changes rankings, weights parsing, the debug breakdown and 503 reasons without
// any other file being edited.
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../../../control-plane/core/app.ts';
import {
  mcdaPolicy,
  parseWeights,
  registerFilter,
  registerScorer,
} from '../../../../control-plane/core/scheduler/index.ts';
import type { FilterModule, ScorerModule } from '../../../../control-plane/core/scheduler/types.ts';
import { openSqlite } from '../../../../control-plane/node/sqlite.ts';
import {
  fakeClock,
  JOIN_TOKEN,
  MODEL,
  makeDeps,
  registration,
} from '../../../contract/fixtures.ts';
import { ctx, GiB, view } from './view.ts';

/** The toy scorer: a whole module's worth — name, label, default weight and the function. */
const toyScorer: ScorerModule = {
  name: 'toy',
  label: 'prefers agents whose id ends in -b',
  defaultWeight: 1,
  score: (agent) => (agent.id.endsWith('-b') ? 1 : 0),
};

/** The toy filter: leaves out agents whose id ends in -a. */
const toyFilter: FilterModule = {
  name: 'toy-filter',
  label: 'left out by the toy filter',
  check: (agent) => (agent.id.endsWith('-a') ? 'its id ends in -a' : null),
};

const req = { model: 'm' };
/** agent-a is better on every built-in signal (more free memory), so it wins without the toy. */
const agents = () => [view('agent-a'), view('agent-b', { memoryFreeBytes: 20 * GiB })];

let unregister: (() => void)[] = [];
afterEach(() => {
  for (const u of unregister) u();
  unregister = [];
});

describe('scheduler registry', () => {
  it('a registered toy scorer changes the ranking and shows in the component scores', () => {
    expect(mcdaPolicy().decide(agents(), req, ctx()).ranked[0]?.agent.id).toBe('agent-a');

    unregister.push(registerScorer(toyScorer));
    const d = mcdaPolicy().decide(agents(), req, ctx());
    expect(d.ranked.map((r) => r.agent.id)).toEqual(['agent-b', 'agent-a']);
    expect(d.ranked[0]?.components).toMatchObject({ toy: 1, memory: 0.25 });
    expect(d.ranked[1]?.components.toy).toBe(0);
  });

  it('SCHEDULER_WEIGHTS knows a registered scorer, and forgets it once unregistered', () => {
    const remove = registerScorer(toyScorer);
    unregister.push(remove);
    expect(parseWeights(undefined)).toEqual({
      memory: 0.4,
      slots: 0.3,
      rtt: 0.2,
      performance: 0.1,
      prefix: 0.5,
      toy: 1,
    });
    expect(parseWeights('toy=2')).toEqual({
      memory: 0,
      slots: 0,
      rtt: 0,
      performance: 0,
      prefix: 0,
      toy: 2,
    });
    const toyOnly = mcdaPolicy({ weights: parseWeights('toy=1') });
    expect(toyOnly.decide(agents(), req, ctx()).ranked[0]?.agent.id).toBe('agent-b');
    remove();
    expect(() => parseWeights('toy=1')).toThrow(/unknown scorer 'toy'/);
    expect(() => mcdaPolicy({ weights: { toy: 1 } })).toThrow(/unknown scorer 'toy'/);
  });

  it('refuses a second scorer of the same name and names that do not fit a weights list', () => {
    unregister.push(registerScorer(toyScorer));
    expect(() => registerScorer(toyScorer)).toThrow(/already registered/);
    expect(() => registerScorer({ ...toyScorer, name: 'memory' })).toThrow(/already registered/);
    expect(() => registerScorer({ ...toyScorer, name: 'a=b' })).toThrow(/must match/);
    expect(() => registerScorer({ ...toyScorer, name: 'neg', defaultWeight: -1 })).toThrow(
      /default weight/,
    );
  });

  it('a registered toy filter excludes agents under its own name', () => {
    unregister.push(registerFilter(toyFilter));
    const d = mcdaPolicy().decide(agents(), req, ctx());
    expect(d.ranked.map((r) => r.agent.id)).toEqual(['agent-b']);
    expect(d.excluded).toEqual([
      { agentId: 'agent-a', filter: 'toy-filter', reason: 'its id ends in -a' },
    ]);
  });

  describe('through POST /v1/route', () => {
    const headers = { authorization: `Bearer ${JOIN_TOKEN}`, 'content-type': 'application/json' };

    async function appWith(memoryFree: Record<string, number>) {
      const app = createApp(await makeDeps(openSqlite(':memory:').store, fakeClock()));
      for (const [id, free] of Object.entries(memoryFree)) {
        const reg = registration(id);
        const body = { ...reg, stats: { ...reg.stats, memoryFreeBytes: free } };
        const res = await app.request('/v1/agents/register', {
          method: 'POST',
          headers,
          body: JSON.stringify(body),
        });
        expect(res.status).toBe(200);
      }
      return (body: unknown) =>
        app.request('/v1/route', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
    }

    it('the debug breakdown shows a registered scorer, and its pick wins', async () => {
      unregister.push(registerScorer(toyScorer));
      const route = await appWith({ 'agent-a': 20e9, 'agent-b': 12e9 });
      const res = await route({ model: MODEL, debug: true });
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        agent: { id: string };
        debug: { candidates: { agent: string; components: Record<string, number> }[] };
      };
      expect(body.agent.id).toBe('agent-b');
      expect(body.debug.candidates.map((c) => [c.agent, c.components.toy])).toEqual([
        ['agent-b', 1],
        ['agent-a', 0],
      ]);
    });

    it("a 503 counts a registered filter's exclusions under its label", async () => {
      unregister.push(registerFilter(toyFilter));
      const route = await appWith({ 'agent-a': 20e9 });
      const res = await route({ model: MODEL });
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('1 left out by the toy filter');
    });
  });
});
