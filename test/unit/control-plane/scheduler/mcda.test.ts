// The MCDA policy: weighted choice, explanations, weights parsing, and properties under fast-check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPolicy } from '../../../../control-plane/core/scheduler/index.ts';
import {
  bestFirst,
  mcdaPolicy,
  parseWeights,
} from '../../../../control-plane/core/scheduler/mcda.ts';
import { type AgentView, RANKED_MAX } from '../../../../control-plane/core/scheduler/types.ts';
import { ctx, GiB, NOW, view } from './view.ts';

const req = { model: 'm' };

describe('mcda policy', () => {
  it('prefers the agent with the model loaded over one that must load it', () => {
    const d = mcdaPolicy().decide(
      [view('cold', { modelLoaded: false, modelMemoryBytes: 30 * GiB }), view('warm')],
      req,
      ctx(),
    );
    expect(d.ranked.map((r) => r.agent.id)).toEqual(['warm', 'cold']);
    expect(d.ranked[1]?.components.memory).toBeCloseTo(10 / 80, 3);
  });

  it('weighs free slots, RTT and speed as configured', () => {
    const busyNear = view('busy-near', { reservedJobs: 3, rttMs: 1 });
    const idleFar = view('idle-far', { reservedJobs: 0, rttMs: 150 });
    expect(mcdaPolicy().decide([busyNear, idleFar], req, ctx()).ranked[0]?.agent.id).toBe(
      'idle-far',
    );
    const rttOnly = mcdaPolicy({ weights: { rtt: 1 } });
    expect(rttOnly.decide([busyNear, idleFar], req, ctx()).ranked[0]?.agent.id).toBe('busy-near');
  });

  it('halves the score of a degraded agent', () => {
    const d = mcdaPolicy().decide([view('ok'), view('sick', { state: 'degraded' })], req, ctx());
    expect(d.ranked[1]?.agent.id).toBe('sick');
    expect(d.ranked[1]?.score).toBeCloseTo((d.ranked[0]?.score ?? 0) / 2, 6);
  });

  it('names every excluded agent and why', () => {
    const d = mcdaPolicy().decide(
      [view('full', { reservedJobs: 4 }), view('gone', { state: 'offline' }), view('ok')],
      req,
      ctx(),
    );
    expect(d.ranked.map((r) => r.agent.id)).toEqual(['ok']);
    expect(d.excluded).toEqual([
      { agentId: 'full', filter: 'slots', reason: 'all 4 slots busy' },
      { agentId: 'gone', filter: 'live', reason: 'offline' },
    ]);
  });

  it('breaks ties at random so equal agents share the load', () => {
    let i = 0;
    const seq = [0.9, 0.1, 0.1, 0.9];
    const p = mcdaPolicy({ random: () => seq[i++ % seq.length] ?? 0 });
    const first = p.decide([view('a'), view('b')], req, ctx()).ranked[0]?.agent.id;
    const second = p.decide([view('a'), view('b')], req, ctx()).ranked[0]?.agent.id;
    expect(new Set([first, second])).toEqual(new Set(['a', 'b']));
  });

  it('ranks the best RANKED_MAX of a large fleet and counts the rest', () => {
    const fleet = Array.from({ length: 200 }, (_, i) =>
      view(`a${i}`, { reservedJobs: i % 4, rttMs: (i * 7) % 90 }),
    );
    const d = mcdaPolicy().decide(fleet, req, ctx());
    expect(d.candidates).toBe(200);
    expect(d.ranked).toHaveLength(RANKED_MAX);
    const scores = d.ranked.map((r) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // Nobody left out scores above the last one kept (alone, an agent scores as in the fleet:
    // no candidate reports tokens/s, so the pool normalises nothing).
    const kept = new Set(d.ranked.map((r) => r.agent.id));
    const last = scores.at(-1) ?? 0;
    for (const v of fleet.filter((a) => !kept.has(a.id)))
      expect(mcdaPolicy().decide([v], req, ctx()).ranked[0]?.score).toBeLessThanOrEqual(last);
  });

  it('bestFirst agrees with a full sort by score, then tie', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 5 }), fc.double({ min: 0, max: 1, noNaN: true })),
          {
            maxLength: 60,
          },
        ),
        fc.integer({ min: 1, max: 20 }),
        (pairs, limit) => {
          const scores = Float64Array.from(pairs.map(([s]) => s / 5));
          const ties = Float64Array.from(pairs.map(([, t]) => t));
          const sorted = pairs
            .map((_, i) => i)
            .sort(
              (a, b) =>
                (scores[b] as number) - (scores[a] as number) ||
                (ties[a] as number) - (ties[b] as number),
            );
          const got = bestFirst(scores, ties, limit);
          expect(got.map((i) => [scores[i], ties[i]])).toEqual(
            sorted.slice(0, limit).map((i) => [scores[i], ties[i]]),
          );
        },
      ),
    );
  });

  it('parses SCHEDULER_WEIGHTS and rejects nonsense', () => {
    expect(parseWeights(undefined)).toEqual({
      memory: 0.4,
      slots: 0.3,
      rtt: 0.2,
      performance: 0.1,
      prefix: 0.5,
    });
    expect(parseWeights('memory=1, slots=0')).toEqual({
      memory: 1,
      slots: 0,
      rtt: 0,
      performance: 0,
      prefix: 0,
    });
    expect(() => parseWeights('gpu=1')).toThrow(/unknown scorer/);
    expect(() => parseWeights('memory=-1')).toThrow(/bad weight/);
    expect(() => parseWeights('memory=0')).toThrow(/all weights are zero/);
    expect(() => createPolicy('fastest', undefined)).toThrow(/unknown policy/);
  });
});

const agentArb: fc.Arbitrary<AgentView> = fc
  .record({
    id: fc.uuid(),
    state: fc.constantFrom('healthy', 'degraded', 'offline', 'draining'),
    ageMs: fc.integer({ min: 0, max: 120_000 }),
    maxJobs: fc.integer({ min: 1, max: 8 }),
    reserved: fc.integer({ min: 0, max: 8 }),
    accelerator: fc.constantFrom<'gpu' | 'cpu'>('gpu', 'cpu'),
    total: fc.integer({ min: 0, max: 100 }),
    freeShare: fc.double({ min: 0, max: 1, noNaN: true }),
    loaded: fc.boolean(),
    need: fc.option(fc.integer({ min: 0, max: 100 })),
    rtt: fc.option(fc.double({ min: 0, max: 1000, noNaN: true })),
    tps: fc.option(fc.double({ min: 0, max: 500, noNaN: true })),
  })
  .map((r) =>
    view(r.id, {
      state: r.state,
      lastHeartbeatAt: NOW - r.ageMs,
      maxJobs: r.maxJobs,
      reservedJobs: Math.min(r.reserved, r.maxJobs),
      accelerator: r.accelerator,
      memoryTotalBytes: r.total * GiB,
      memoryFreeBytes: Math.floor(r.total * r.freeShare) * GiB,
      modelLoaded: r.loaded,
      modelMemoryBytes: r.need === null ? null : r.need * GiB,
      rttMs: r.rtt,
      tokensPerSecond: r.tps,
    }),
  );

describe('mcda properties', () => {
  it('never ranks an excluded agent, ranks best first, and accounts for every agent', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(agentArb, { selector: (a) => a.id, maxLength: 30 }),
        fc.array(fc.uuid(), { maxLength: 5 }),
        (agents, openBreakers) => {
          const open = new Set(openBreakers.concat(agents.slice(0, 2).map((a) => a.id)));
          const d = mcdaPolicy().decide(
            agents,
            req,
            ctx({ breakerAdmits: (a) => !open.has(a.id) }),
          );
          const excluded = new Set(d.excluded.map((e) => e.agentId));
          for (const r of d.ranked) {
            expect(excluded.has(r.agent.id)).toBe(false);
            expect(open.has(r.agent.id)).toBe(false);
            expect(r.agent.reservedJobs).toBeLessThan(r.agent.maxJobs);
            expect(['healthy', 'degraded']).toContain(r.agent.state);
            for (const v of Object.values(r.components)) {
              expect(v).toBeGreaterThanOrEqual(0);
              expect(v).toBeLessThanOrEqual(1);
            }
          }
          for (let i = 1; i < d.ranked.length; i++) {
            expect(d.ranked[i - 1]!.score).toBeGreaterThanOrEqual(d.ranked[i]!.score);
          }
          expect(d.ranked.length + d.excluded.length).toBe(agents.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
