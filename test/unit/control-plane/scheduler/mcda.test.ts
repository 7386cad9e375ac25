// The MCDA policy: weighted choice, explanations, weights parsing, and properties under fast-check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPolicy } from '../../../../control-plane/core/scheduler/index.ts';
import { mcdaPolicy, parseWeights } from '../../../../control-plane/core/scheduler/mcda.ts';
import type { AgentView } from '../../../../control-plane/core/scheduler/types.ts';
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
          const d = mcdaPolicy().decide(agents, req, ctx({ breakerAdmits: (id) => !open.has(id) }));
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
