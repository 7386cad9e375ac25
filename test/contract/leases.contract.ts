// Slot leases on better-sqlite3 and on D1: claim window, confirmation, heartbeat reconciliation,
// release when the agent goes offline or registers again, and retention of ticket history.
import { decodeJwt } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { jtiOf } from '../../client/wire.ts';
import { createApp } from '../../control-plane/core/app.ts';
import type { Deps } from '../../control-plane/core/deps.ts';
import { runMaintenance } from '../../control-plane/core/maintenance.ts';
import { AGENT_CREDENTIAL_HEADER } from '../../protocol/agent-api.ts';
import type { ContractTarget } from './control-plane.contract.ts';
import { fakeClock, heartbeat, JOIN_TOKEN, MODEL, makeDeps, registration } from './fixtures.ts';

const json = { 'content-type': 'application/json' };
const report = {
  outcome: 'success',
  model: MODEL,
  promptTokens: 1,
  completionTokens: 1,
  durationMs: 5,
};

export function leasesContract(runtime: string, target: ContractTarget) {
  describe(`slot leases (${runtime})`, () => {
    let clock: ReturnType<typeof fakeClock>;
    let app: ReturnType<typeof createApp>;
    let deps: Deps;
    let rowsWritten: () => Promise<number>;
    let credential = '';

    const post = (path: string, body: unknown, headers: Record<string, string> = json) =>
      app.request(path, { method: 'POST', headers, body: JSON.stringify(body) });
    const asAgent = (path: string, body: unknown) =>
      post(`/v1/agents/agent-a${path}`, body, { ...json, authorization: `Bearer ${credential}` });
    const register = async (slots: number, headers: Record<string, string> = {}) => {
      const res = await post(
        '/v1/agents/register',
        registration('agent-a', { maxConcurrentJobs: slots }),
        {
          ...json,
          authorization: `Bearer ${JOIN_TOKEN}`,
          ...headers,
        },
      );
      expect(res.status).toBe(200);
      credential = ((await res.json()) as { credential: string }).credential;
    };
    /** A redirect (307) for a chat request: its jti, or null when refused (status kept). */
    const redirect = async () => {
      const res = await post('/v1/chat/completions', {
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
      });
      if (res.status !== 307)
        return { status: res.status, retryAfter: res.headers.get('retry-after') };
      const ticket = new URL(res.headers.get('location') ?? '').searchParams.get('ticket') ?? '';
      return { status: 307, jti: jtiOf(ticket), reg: decodeJwt(ticket).reg };
    };
    const admit = (jti: string | undefined) => asAgent(`/jobs/${jti}/admitted`, {});
    const reserved = async () => {
      const status = (await (await app.request('/v1/status')).json()) as {
        agents: { slots: { reserved: number } }[];
      };
      return status.agents[0]?.slots.reserved;
    };

    beforeEach(async () => {
      clock = fakeClock();
      const fresh = await target.freshStore();
      rowsWritten = fresh.rowsWritten;
      deps = await makeDeps(fresh.store, clock, { LEASE_CLAIM_WINDOW: '3s' });
      app = createApp(deps);
    });

    it('gives an unconfirmed lease back after the claim window, with no sweep', async () => {
      await register(2);
      expect((await redirect()).status).toBe(307);
      expect((await redirect()).status).toBe(307);
      const full = await redirect();
      expect(full).toMatchObject({ status: 503, retryAfter: '1' });
      expect(await reserved()).toBe(2);
      clock.advance(2_999);
      expect((await redirect()).status).toBe(503);
      clock.advance(2);
      expect(await reserved()).toBe(0);
      expect((await redirect()).status).toBe(307);
      expect((await redirect()).status).toBe(307);
      expect((await redirect()).status).toBe(503);
    });

    it('answers exhaustion with 503 and Retry-After: 1, even beside an offline agent', async () => {
      await register(1);
      const other = registration('agent-b', { maxConcurrentJobs: 1 });
      const b = await post('/v1/agents/register', other, {
        ...json,
        authorization: `Bearer ${JOIN_TOKEN}`,
      });
      const bCredential = ((await b.json()) as { credential: string }).credential;
      const died = { reason: 'agent process died', exitCode: null, signal: 'SIGKILL' };
      await post('/v1/agents/agent-b/offline', died, {
        ...json,
        authorization: `Bearer ${bCredential}`,
      });
      expect((await redirect()).status).toBe(307);
      expect(await redirect()).toMatchObject({ status: 503, retryAfter: '1' });
    });

    it('holds a confirmed lease past the claim window until the job report', async () => {
      await register(1);
      const { jti } = await redirect();
      const ok = await admit(jti);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ admitted: true });
      // Confirming twice is harmless.
      expect((await admit(jti)).status).toBe(200);
      clock.advance(10_000);
      expect(await reserved()).toBe(1);
      expect((await redirect()).status).toBe(503);
      // A stream outliving its ticket keeps its slot through the expiry sweep.
      clock.advance(60_000);
      const hb = heartbeat({ activeJobs: 1, runningJobs: [jti] });
      expect((await asAgent('/heartbeat', hb)).status).toBe(200);
      await runMaintenance(deps.store, deps.config, clock.now());
      expect(await reserved()).toBe(1);
      expect(await (await asAgent(`/jobs/${jti}`, report)).json()).toEqual({ released: true });
      expect(await reserved()).toBe(0);
      expect((await redirect()).status).toBe(307);
    });

    it('refuses to confirm an unknown, finished, or lapsed ticket whose slot was taken', async () => {
      await register(1);
      const unknown = await admit('no-such-ticket');
      expect(unknown.status).toBe(409);
      expect(await unknown.json()).toMatchObject({ error: { code: 'lease_refused' } });

      const first = await redirect();
      await asAgent(`/jobs/${first.jti}`, { ...report, outcome: 'cancelled' });
      expect((await admit(first.jti)).status).toBe(409);

      // Lapsed, and the slot went to another ticket: refused.
      const lapsed = await redirect();
      clock.advance(3_001);
      const taker = await redirect();
      expect(taker.status).toBe(307);
      const refused = await admit(lapsed.jti);
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
        'claim window',
      );
      // Lapsed with the slot still free: taken again.
      clock.advance(3_001);
      expect((await admit(taker.jti)).status).toBe(200);
      expect(await reserved()).toBe(1);
    });

    it('reconciles leases with the jobs the heartbeat lists, after a grace of one interval', async () => {
      await register(2);
      const a = await redirect();
      const b = await redirect();
      expect((await admit(a.jti)).status).toBe(200);
      // b is confirmed by the heartbeat that lists it (an admission call that was lost).
      const hb = (running: (string | undefined)[]) =>
        asAgent('/heartbeat', heartbeat({ activeJobs: running.length, runningJobs: running }));
      expect((await hb([a.jti, b.jti])).status).toBe(200);
      clock.advance(10_000);
      expect(await reserved()).toBe(2);
      // a finished without a report reaching us: the next heartbeat no longer lists it.
      expect((await hb([b.jti])).status).toBe(200);
      expect(await reserved()).toBe(1);
      // A job admitted just now is not yet in a heartbeat built before it: kept for one interval.
      const c = await redirect();
      expect((await admit(c.jti)).status).toBe(200);
      expect((await hb([b.jti])).status).toBe(200);
      expect(await reserved()).toBe(2);
      clock.advance(5_001);
      expect((await hb([b.jti])).status).toBe(200);
      expect(await reserved()).toBe(1);
    });

    it('writes nothing for a heartbeat that lists what it holds; a changed list still reconciles', async () => {
      await register(3);
      const a = await redirect();
      const b = await redirect();
      expect((await admit(a.jti)).status).toBe(200);
      expect((await admit(b.jti)).status).toBe(200);
      const hb = (running: (string | undefined)[]) =>
        asAgent('/heartbeat', heartbeat({ activeJobs: running.length, runningJobs: running }));
      expect((await hb([a.jti, b.jti])).status).toBe(200);
      clock.advance(6_000);
      // Inside the liveness interval, the same jobs as held: no row written.
      const before = await rowsWritten();
      expect((await hb([b.jti, a.jti])).status).toBe(200);
      expect(await rowsWritten()).toBe(before);
      expect(await reserved()).toBe(2);
      // A job the agent lists before its admission call arrived: confirmed by this heartbeat.
      const c = await redirect();
      clock.advance(3_001);
      expect((await hb([a.jti, b.jti, c.jti])).status).toBe(200);
      expect(await reserved()).toBe(3);
      // One gone from the list: released, though nothing else in the heartbeat changed.
      expect((await hb([a.jti, c.jti])).status).toBe(200);
      expect(await reserved()).toBe(2);
      expect((await redirect()).status).toBe(307);
    });

    it('releases every lease at once when the agent is reported offline or registers again', async () => {
      await register(2);
      for (const { jti } of [await redirect(), await redirect()]) {
        expect((await admit(jti)).status).toBe(200);
      }
      expect((await redirect()).status).toBe(503);
      const died = { reason: 'agent process died', exitCode: null, signal: 'SIGKILL' };
      expect((await asAgent('/offline', died)).status).toBe(200);
      expect(await reserved()).toBe(0);

      // The restarted process registers again, then takes two leases; a further restart frees them.
      await register(2, { [AGENT_CREDENTIAL_HEADER]: credential });
      for (const { jti } of [await redirect(), await redirect()]) {
        expect((await admit(jti)).status).toBe(200);
      }
      expect(await reserved()).toBe(2);
      await register(2, { [AGENT_CREDENTIAL_HEADER]: credential });
      expect(await reserved()).toBe(0);
      expect((await redirect()).status).toBe(307);
    });

    it('takes a lease only on an undrained agent, with the epoch of its current registration', async () => {
      await register(4);
      const first = clock.now();
      expect(await redirect()).toMatchObject({ status: 307, reg: first });
      clock.advance(1_000);
      await register(4, { [AGENT_CREDENTIAL_HEADER]: credential });
      expect(await redirect()).toMatchObject({ status: 307, reg: first + 1_000 });
      // The guard itself, as a routing decision made on a stale view would meet it.
      const lease = (jti: string) => ({
        jti,
        agentId: 'agent-a',
        model: MODEL,
        client: 'client',
        issuedAt: clock.now(),
        expiresAt: clock.now() + 60_000,
        claimUntil: clock.now() + 3_000,
      });
      const liveAfter = clock.now() - 1;
      expect(await deps.store.agents.setDrained('agent-a', clock.now())).toBe(true);
      expect(await deps.store.tickets.takeLease(lease('while-drained'), liveAfter)).toBeUndefined();
      await deps.store.agents.setDrained('agent-a', null);
      expect(await deps.store.tickets.takeLease(lease('undrained'), liveAfter)).toBe(first + 1_000);
      expect(await reserved()).toBe(2);
    });

    it('deletes closed tickets past TICKET_RETENTION in bounded batches, oldest first', async () => {
      await register(4);
      const jobs = async () => {
        const { jti } = await redirect();
        await asAgent(`/jobs/${jti}`, report);
        return jti;
      };
      await jobs();
      await jobs();
      await jobs();
      const open = await redirect(); // never used: expired by the sweep, then history
      clock.advance(3_600_000);
      await register(4, { [AGENT_CREDENTIAL_HEADER]: credential });
      await jobs(); // an hour younger: kept
      // A day later the agent is long gone; this run only retires it (nothing is old enough yet).
      clock.advance(23 * 3_600_000);
      const first = await runMaintenance(deps.store, deps.config, clock.now(), 2);
      expect(first.ticketsDeleted).toBe(0);
      clock.advance(120_000);
      const before = await rowsWritten();
      const runs = [];
      for (let i = 0; i < 3; i++) {
        runs.push((await runMaintenance(deps.store, deps.config, clock.now(), 2)).ticketsDeleted);
      }
      expect(runs).toEqual([2, 2, 0]);
      const perTicket = ((await rowsWritten()) - before) / 4;
      console.log(`[write budget] ${runtime}: ${perTicket} rows written to delete one ticket`);
      expect(perTicket).toBeGreaterThanOrEqual(1);
      expect(open.status).toBe(307);
      clock.advance(3_600_000);
      expect((await runMaintenance(deps.store, deps.config, clock.now(), 2)).ticketsDeleted).toBe(
        1,
      );
    });
  });
}
