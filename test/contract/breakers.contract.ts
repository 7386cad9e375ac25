// Breaker transitions in the database, through the HTTP API, on better-sqlite3 and on D1.
import { beforeEach, describe, expect, it } from 'vitest';
import { jtiOf } from '../../client/wire.ts';
import { createApp } from '../../control-plane/core/app.ts';
import type { Deps } from '../../control-plane/core/deps.ts';
import { createTicketSigner, generatePrivateKeyPem } from '../../control-plane/core/tickets.ts';
import { AGENT_CREDENTIAL_HEADER } from '../../protocol/agent-api.ts';
import type { ContractTarget } from './control-plane.contract.ts';
import { fakeClock, JOIN_TOKEN, MODEL, makeDeps, registration } from './fixtures.ts';

const auth = { authorization: `Bearer ${JOIN_TOKEN}`, 'content-type': 'application/json' };
const json = { 'content-type': 'application/json' };
const COOLDOWN = 10_000;
const PROBES = 3;

interface AgentStatus {
  id: string;
  state: string;
  breaker: { state: string; consecutiveFailures: number; trips: number; halfOpenInMs: number };
}

export function breakersContract(runtime: string, target: ContractTarget) {
  describe(`circuit breakers (${runtime})`, () => {
    let clock: ReturnType<typeof fakeClock>;
    let deps: Deps;
    let app: ReturnType<typeof createApp>;
    /** Each agent's credential from registration: job reports must carry it. */
    const credentials = new Map<string, string>();

    const post = (path: string, body: unknown, headers: Record<string, string> = json) =>
      app.request(path, { method: 'POST', headers, body: JSON.stringify(body) });
    /** Routes to `agent` only (the others excluded), as the failover client would. */
    const routeTo = async (agent: string, others: string[] = ['agent-b']) => {
      const res = await post('/v1/route', { model: MODEL, exclude: others });
      if (res.status !== 200) return { status: res.status, jti: '', ticket: '' };
      const body = (await res.json()) as { ticket: string; agent: { id: string } };
      expect(body.agent.id).toBe(agent);
      return { status: 200, jti: jtiOf(body.ticket), ticket: body.ticket };
    };
    const report = (agent: string, jti: string, outcome: string) =>
      post(
        `/v1/agents/${agent}/jobs/${jti}`,
        { outcome, model: MODEL, promptTokens: 1, completionTokens: 1, durationMs: 10 },
        { ...json, authorization: `Bearer ${credentials.get(agent) ?? ''}` },
      );
    const failOnce = async (agent = 'agent-a', others = ['agent-b']) => {
      const t = await routeTo(agent, others);
      expect(t.status).toBe(200);
      await report(agent, t.jti, 'error');
      return t;
    };
    const status = async (id: string) => {
      const s = (await (await app.request('/v1/status')).json()) as { agents: AgentStatus[] };
      const a = s.agents.find((x) => x.id === id);
      if (!a) throw new Error(`no ${id} in status`);
      return a;
    };
    const clientReport = (jti: string, ticket: string, kind = 'connect') =>
      post(`/v1/route/${jti}/failure`, { kind }, { ...json, authorization: `Bearer ${ticket}` });

    beforeEach(async () => {
      clock = fakeClock();
      const fresh = await target.freshStore();
      deps = await makeDeps(fresh.store, clock, {
        BREAKER_COOLDOWN: `${COOLDOWN}ms`,
        BREAKER_PROBES: String(PROBES),
      });
      app = createApp(deps);
      for (const id of ['agent-a', 'agent-b']) {
        const reg = await post(
          '/v1/agents/register',
          registration(id, { maxConcurrentJobs: 16 }),
          auth,
        );
        expect(reg.status).toBe(200);
        credentials.set(id, ((await reg.json()) as { credential: string }).credential);
      }
    });

    it('stays closed after N-1 engine errors and opens on the N-th; traffic moves away', async () => {
      for (let i = 0; i < 4; i++) await failOnce();
      expect((await status('agent-a')).breaker).toMatchObject({
        state: 'closed',
        consecutiveFailures: 4,
      });
      expect((await routeTo('agent-a')).status).toBe(200);
      await failOnce();
      const a = await status('agent-a');
      expect(a.breaker).toMatchObject({ state: 'open', trips: 1, halfOpenInMs: COOLDOWN });
      expect(a.state).toBe('degraded');
      const blocked = await post('/v1/route', { model: MODEL, exclude: ['agent-b'] });
      expect(blocked.status).toBe(503);
      expect(await blocked.text()).toContain('circuit breaker open');
      for (let i = 0; i < 5; i++) {
        const any = (await (await post('/v1/route', { model: MODEL })).json()) as {
          agent: { id: string };
        };
        expect(any.agent.id).toBe('agent-b');
      }
    });

    it('never counts rejected (4xx), cancelled or successful jobs as failures', async () => {
      for (const outcome of [
        'rejected',
        'cancelled',
        'rejected',
        'cancelled',
        'rejected',
        'cancelled',
      ]) {
        const t = await routeTo('agent-a');
        await report('agent-a', t.jti, outcome);
      }
      expect((await status('agent-a')).breaker).toMatchObject({
        state: 'closed',
        consecutiveFailures: 0,
      });
      for (let i = 0; i < 4; i++) await failOnce();
      const ok = await routeTo('agent-a');
      await report('agent-a', ok.jti, 'success');
      expect((await status('agent-a')).breaker.consecutiveFailures).toBe(0);
    });

    it('admits exactly the configured probes when half-open, under concurrent requests', async () => {
      for (let i = 0; i < 5; i++) await failOnce();
      clock.advance(COOLDOWN - 1);
      expect((await routeTo('agent-a')).status).toBe(503);
      clock.advance(1);
      expect((await status('agent-a')).breaker.state).toBe('half-open');
      const results = await Promise.all(Array.from({ length: 12 }, () => routeTo('agent-a')));
      const probes = results.filter((r) => r.status === 200);
      expect(probes).toHaveLength(PROBES);
      expect(results.filter((r) => r.status === 503)).toHaveLength(12 - PROBES);
      // One probe succeeds: closed again, traffic flows.
      await report('agent-a', probes[0]!.jti, 'success');
      expect((await status('agent-a')).breaker.state).toBe('closed');
      expect((await routeTo('agent-a')).status).toBe(200);
    });

    it('reopens on a failed probe with a doubled cooldown', async () => {
      for (let i = 0; i < 5; i++) await failOnce();
      clock.advance(COOLDOWN);
      await failOnce();
      expect((await status('agent-a')).breaker).toMatchObject({
        state: 'open',
        trips: 2,
        halfOpenInMs: 2 * COOLDOWN,
      });
      clock.advance(2 * COOLDOWN - 1);
      expect((await routeTo('agent-a')).status).toBe(503);
      clock.advance(1);
      expect((await routeTo('agent-a')).status).toBe(200);
    });

    it('ignores outcomes of tickets issued before the trip', async () => {
      const early = await routeTo('agent-a');
      clock.advance(1);
      for (let i = 0; i < 5; i++) await failOnce();
      clock.advance(COOLDOWN);
      // A success issued before the trip does not close it; a failure does not reopen it.
      await report('agent-a', early.jti, 'success');
      expect((await status('agent-a')).breaker).toMatchObject({ state: 'half-open', trips: 1 });
    });

    it('frees the slots of a crashed agent when it registers again, and keeps its breaker', async () => {
      for (let i = 0; i < 5; i++) await failOnce();
      const held = await routeTo('agent-b', ['agent-a']);
      expect(held.status).toBe(200);
      // The restarted processes present the credentials they kept on disk.
      const reRegister = async (id: string) => {
        const res = await post('/v1/agents/register', registration(id), {
          ...auth,
          [AGENT_CREDENTIAL_HEADER]: credentials.get(id) ?? '',
        });
        if (res.ok)
          credentials.set(id, ((await res.clone().json()) as { credential: string }).credential);
        return res;
      };
      const again = await reRegister('agent-b');
      expect(again.status).toBe(200);
      expect((await reRegister('agent-a')).status).toBe(200);
      const s = (await (await app.request('/v1/status')).json()) as {
        agents: { id: string; breaker: { state: string }; slots: { reserved: number } }[];
      };
      expect(s.agents.map((a) => [a.id, a.slots.reserved, a.breaker.state])).toEqual([
        ['agent-a', 0, 'open'],
        ['agent-b', 0, 'closed'],
      ]);
      // The old process's ticket is gone with it: its late report releases nothing.
      const late = await report('agent-b', held.jti, 'success');
      expect(await late.json()).toEqual({ released: false });
    });

    it("counts a supervisor's offline report as no breaker failure, of that agent or another", async () => {
      for (let i = 0; i < 4; i++) await failOnce(); // one short of tripping
      const held = await routeTo('agent-a');
      const offline = await post(
        '/v1/agents/agent-a/offline',
        { reason: 'agent process died', signal: 'SIGABRT' },
        { ...json, authorization: `Bearer ${credentials.get('agent-a') ?? ''}` },
      );
      expect(offline.status).toBe(200);
      expect((await status('agent-a')).breaker).toMatchObject({
        state: 'closed',
        consecutiveFailures: 4,
        trips: 0,
      });
      expect((await status('agent-b')).breaker).toMatchObject({
        state: 'closed',
        consecutiveFailures: 0,
      });
      // The lost ticket's agent report releases and counts nothing.
      expect(await (await report('agent-a', held.jti, 'error')).json()).toEqual({
        released: false,
      });
      expect((await status('agent-a')).breaker.consecutiveFailures).toBe(4);
      expect((await routeTo('agent-b', ['agent-a'])).status).toBe(200);
    });

    it('shows an agent with late heartbeats as degraded, still routable', async () => {
      clock.advance(25_001);
      expect((await status('agent-a')).state).toBe('degraded');
      expect((await routeTo('agent-a')).status).toBe(200);
    });

    it('treats exclude as a preference: with every agent excluded it routes among all', async () => {
      const res = await post('/v1/route', { model: MODEL, exclude: ['agent-a', 'agent-b'] });
      expect(res.status).toBe(200);
    });

    it('never ejects more than half the fleet', async () => {
      for (let i = 0; i < 5; i++) await failOnce();
      for (let i = 0; i < 6; i++) await failOnce('agent-b', ['agent-a']);
      expect((await status('agent-a')).breaker.state).toBe('open');
      const b = await status('agent-b');
      expect(b.breaker).toMatchObject({ state: 'closed', consecutiveFailures: 6 });
      expect((await routeTo('agent-b', ['agent-a'])).status).toBe(200);
    });

    it('takes client failure reports authenticated by the ticket, once per ticket', async () => {
      const t = await routeTo('agent-a');
      const first = await clientReport(t.jti, t.ticket);
      // One client alone is no evidence against the agent (see the quorum test below).
      expect(await first.json()).toEqual({ counted: false });
      expect(await (await clientReport(t.jti, t.ticket)).json()).toEqual({ counted: false });
      // The agent's own error report for the same ticket is not counted a second time.
      await report('agent-a', t.jti, 'error');
      expect((await status('agent-a')).breaker.consecutiveFailures).toBe(1);

      const other = await routeTo('agent-a');
      expect((await clientReport(t.jti, other.ticket)).status).toBe(403);
      expect((await post(`/v1/route/${t.jti}/failure`, { kind: 'connect' })).status).toBe(401);
      const stranger = await createTicketSigner({
        issuer: deps.config.issuer,
        privateKeyPem: await generatePrivateKeyPem('RS256'),
      });
      const forged = await stranger.sign({
        sub: 'x',
        aud: 'agent-a',
        jti: other.jti,
        model: MODEL,
        maxTokens: 16,
        issuedAtMs: clock.now(),
        expiresAtMs: clock.now() + 60_000,
        registration: 0,
      });
      expect((await clientReport(other.jti, forged)).status).toBe(401);
      expect((await status('agent-a')).breaker.consecutiveFailures).toBe(1);
    });

    it("one client cannot open a healthy agent's breaker or free its quota by reporting failures", async () => {
      // Keys mode over the same database: each key is a distinct client.
      const keyed = createApp(
        await makeDeps(deps.store, clock, {
          AUTH_MODE: 'keys',
          ADMIN_KEY: 'breaker-admin',
          BREAKER_COOLDOWN: `${COOLDOWN}ms`,
          BREAKER_PROBES: String(PROBES),
        }),
      );
      const newKey = async (extra: Record<string, unknown>) => {
        const res = await keyed.request('/admin/api-keys', {
          method: 'POST',
          headers: { ...json, authorization: 'Bearer breaker-admin' },
          body: JSON.stringify({ name: 'k', ...extra }),
        });
        return ((await res.json()) as { key: string }).key;
      };
      const as = (key: string) => ({ ...json, authorization: `Bearer ${key}` });
      const route = async (key: string) => {
        const res = await keyed.request('/v1/route', {
          method: 'POST',
          headers: as(key),
          body: JSON.stringify({ model: MODEL, exclude: ['agent-b'] }),
        });
        if (res.status !== 200) return { status: res.status, jti: '', ticket: '' };
        const { ticket } = (await res.json()) as { ticket: string };
        return { status: 200, jti: jtiOf(ticket), ticket };
      };
      const reportAs = (t: { jti: string; ticket: string }) =>
        keyed.request(`/v1/route/${t.jti}/failure`, {
          method: 'POST',
          headers: as(t.ticket),
          body: JSON.stringify({ kind: 'connect' }),
        });
      const agentA = async () => {
        const s = (await (await keyed.request('/v1/status', { headers: as(attacker) })).json()) as {
          agents: { id: string; breaker: { state: string }; slots: { reserved: number } }[];
        };
        return s.agents.find((x) => x.id === 'agent-a');
      };

      // The attack: five "connect" reports on tickets never used, from one key.
      const attacker = await newKey({});
      for (let i = 0; i < 5; i++) {
        const t = await route(attacker);
        expect(t.status).toBe(200);
        expect(await (await reportAs(t)).json()).toEqual({ counted: false });
      }
      expect((await agentA())?.breaker.state).toBe('closed');
      // The tickets stay open (the agent would still honour them): their slots stay reserved.
      expect((await agentA())?.slots.reserved).toBe(5);

      // The quota attack: reporting the unused ticket does not buy a second one.
      const single = await newKey({ maxConcurrent: 1 });
      const held = await route(single);
      expect(held.status).toBe(200);
      expect((await route(single)).status).toBe(429);
      expect((await reportAs(held)).status).toBe(200);
      expect((await route(single)).status).toBe(429);

      // Two clients reporting the same agent corroborate each other: from then on reports count.
      const other = await newKey({});
      const t = await route(other);
      expect(await (await reportAs(t)).json()).toEqual({ counted: true });
    });
  });
}
