// Contract for prefix-cache affinity's storage (docs/adr/0013), run on better-sqlite3 and on D1:
// what an agent holds is stored from its job reports and heartbeats within ADR 0003's budget, and
// routing reads it back.
import { beforeEach, describe, expect, it } from 'vitest';
import { jtiOf } from '../../client/wire.ts';
import { createApp } from '../../control-plane/core/app.ts';
import type { Deps } from '../../control-plane/core/deps.ts';
import { AGENT_CREDENTIAL_HEADER } from '../../protocol/agent-api.ts';
import { type PrefixEntry, prefixDigest } from '../../protocol/prefix-digest.ts';
import type { ContractTarget } from './control-plane.contract.ts';
import { fakeClock, heartbeat, JOIN_TOKEN, MODEL, makeDeps, registration } from './fixtures.ts';

const json = { 'content-type': 'application/json' };

interface Candidate {
  agent: string;
  details?: { prefixChars?: number };
}

export function prefixCacheContract(runtime: string, target: ContractTarget) {
  describe(`prefix cache contract (${runtime})`, () => {
    let clock: ReturnType<typeof fakeClock>;
    let deps: Deps;
    let app: ReturnType<typeof createApp>;
    let rowsWritten: () => Promise<number>;
    const credentials = new Map<string, string>();

    const post = (path: string, body: unknown, agent?: string) =>
      app.request(path, {
        method: 'POST',
        headers: {
          ...json,
          ...(agent ? { authorization: `Bearer ${credentials.get(agent) ?? JOIN_TOKEN}` } : {}),
        },
        body: JSON.stringify(body),
      });
    const start = async (env: Record<string, string> = {}) => {
      const fresh = await target.freshStore();
      rowsWritten = fresh.rowsWritten;
      deps = await makeDeps(fresh.store, clock, env);
      app = createApp(deps);
      for (const id of ['agent-a', 'agent-b']) {
        credentials.set(id, JOIN_TOKEN);
        const res = await post('/v1/agents/register', registration(id), id);
        expect(res.status).toBe(200);
        credentials.set(id, ((await res.json()) as { credential: string }).credential);
      }
    };
    const route = async (prefix: PrefixEntry[]) => {
      const res = await post('/v1/route', { model: MODEL, prefix, debug: true });
      expect(res.status).toBe(200);
      return (await res.json()) as {
        agent: { id: string };
        ticket: string;
        debug: { candidates: Candidate[] };
      };
    };
    const finish = async (agent: string, ticket: string, prefixes?: string[]) => {
      const jti = jtiOf(ticket);
      expect((await post(`/v1/agents/${agent}/jobs/${jti}/admitted`, {}, agent)).status).toBe(200);
      const report = {
        outcome: 'success',
        model: MODEL,
        promptTokens: 900,
        cachedPromptTokens: 800,
        completionTokens: 20,
        durationMs: 400,
        ...(prefixes ? { prefixes } : {}),
      };
      expect((await post(`/v1/agents/${agent}/jobs/${jti}`, report, agent)).status).toBe(200);
    };

    const system = { role: 'system', content: 'You answer briefly. '.repeat(60) };
    let turn1: PrefixEntry[];
    let turn2: PrefixEntry[];

    beforeEach(async () => {
      clock = fakeClock();
      credentials.clear();
      turn1 = await prefixDigest({ messages: [system, { role: 'user', content: 'one' }] });
      turn2 = await prefixDigest({
        messages: [
          system,
          { role: 'user', content: 'one' },
          { role: 'assistant', content: 'ok' },
          { role: 'user', content: 'two' },
        ],
      });
    });

    it('stores what a job report says the engine holds in the same row write, and routes to it', async () => {
      await start();
      const first = await route(turn1);
      const served = first.agent.id;
      const before = await rowsWritten();
      await finish(served, first.ticket, turn1.map((e) => e.hash).reverse());
      const reportRows = (await rowsWritten()) - before;
      console.log(
        `[prefix cache] ${runtime}: ${reportRows} rows for admission + report with a digest`,
      );
      // Admission and report as without a digest (ADR 0003): the digest rides on the tokens/s write.
      expect(reportRows).toBeLessThanOrEqual(runtime.includes('D1') ? 5 : 3);
      const second = await route(turn2);
      expect(second.agent.id).toBe(served);
      const byAgent = new Map(second.debug.candidates.map((c) => [c.agent, c]));
      expect(byAgent.get(served)?.details?.prefixChars).toBe(turn1.at(-1)?.chars);
      const other = served === 'agent-a' ? 'agent-b' : 'agent-a';
      expect(byAgent.get(other)?.details?.prefixChars).toBe(0);
    });

    it('hashes the messages of a 307 path and of a route call without a digest', async () => {
      await start();
      const res = await post('/v1/route', { model: MODEL, prefix: turn1, exclude: ['agent-a'] });
      const { ticket, agent } = (await res.json()) as { ticket: string; agent: { id: string } };
      expect(agent.id).toBe('agent-b');
      await finish('agent-b', ticket, turn1.map((e) => e.hash).reverse());
      const messages = [
        system,
        { role: 'user', content: 'one' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'two' },
      ];
      const redirect = await post('/v1/chat/completions', { model: MODEL, messages });
      expect(redirect.status).toBe(307);
      expect(redirect.headers.get('x-titan-agent')).toBe('agent-b');
      const routed = await post('/v1/route', { model: MODEL, messages, debug: true });
      const body = (await routed.json()) as { debug: { candidates: Candidate[] } };
      const b = body.debug.candidates.find((c) => c.agent === 'agent-b');
      expect(b?.details?.prefixChars).toBe(turn1.at(-1)?.chars);
    });

    it('forgets what an agent held when it registers again (a new process, an empty cache)', async () => {
      await start();
      const first = await route(turn1);
      const served = first.agent.id;
      await finish(served, first.ticket, turn1.map((e) => e.hash).reverse());
      const again = await app.request('/v1/agents/register', {
        method: 'POST',
        headers: {
          ...json,
          authorization: `Bearer ${JOIN_TOKEN}`,
          [AGENT_CREDENTIAL_HEADER]: credentials.get(served) ?? '',
        },
        body: JSON.stringify(registration(served)),
      });
      expect(again.status).toBe(200);
      const after = await route(turn2);
      expect(after.debug.candidates.every((c) => c.details?.prefixChars === 0)).toBe(true);
    });

    it('writes a changed digest from heartbeats at most once per load interval', async () => {
      await start();
      const hb = (prefixes: string[]) =>
        post('/v1/agents/agent-b/heartbeat', heartbeat({ prefixes }), 'agent-b');
      // Just registered: a changed digest waits for the load interval (10 s by default).
      expect((await hb(['0000000a'])).status).toBe(200);
      clock.advance(1_000);
      expect((await route(turn1)).debug.candidates.every((c) => c.details?.prefixChars === 0)).toBe(
        true,
      );
      clock.advance(10_000);
      expect((await hb([turn1[0]?.hash as string])).status).toBe(200);
      clock.advance(2_000);
      const seen = await route(turn1);
      const b = seen.debug.candidates.find((c) => c.agent === 'agent-b');
      expect(b?.details?.prefixChars).toBe(turn1[0]?.chars);
    });

    it.each([
      { name: 'Node defaults', env: {} as Record<string, string>, ceiling: 360 },
      {
        name: 'wrangler.toml settings',
        env: { LIVENESS_WRITE_INTERVAL: '120s', LOAD_WRITE_INTERVAL: '60s' },
        ceiling: 60,
      },
    ])(
      'stays within the worst-case heartbeat budget when the digest changes at every heartbeat ($name)',
      { timeout: 60_000 },
      async ({ name, env, ceiling }) => {
        await start(env);
        const before = await rowsWritten();
        for (let t = 0; t < 720; t++) {
          clock.advance(5_000);
          const prefixes = [t.toString(16).padStart(8, '0')];
          const res = await post(
            '/v1/agents/agent-a/heartbeat',
            heartbeat({ prefixes }),
            'agent-a',
          );
          expect(res.status).toBe(200);
        }
        const perHour = (await rowsWritten()) - before;
        console.log(
          `[prefix cache] ${runtime}, ${name}: ${perHour} rows per agent-hour, digest always changing`,
        );
        expect(perHour).toBeLessThanOrEqual(ceiling);
      },
    );

    it('refuses a malformed digest on /v1/route with a 400 naming the field', async () => {
      await start();
      const res = await post('/v1/route', {
        model: MODEL,
        prefix: [{ hash: 'nothex!!', chars: 3 }],
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('prefix');
    });
  });
}
