// Dashboard contract, on better-sqlite3 and on D1: the page is served, its data endpoints need the
// admin key and answer the fleet (quantization, leased and confirmed slots), the latest requests
// and decisions, and the last hour's activity per minute from the ticket rows.
import { decodeJwt } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { jtiOf } from '../../client/wire.ts';
import { createApp } from '../../control-plane/core/app.ts';
import type {
  DecisionsResponse,
  FleetResponse,
  RequestsResponse,
  SeriesResponse,
} from '../../control-plane/core/dashboard/types.ts';
import type { ContractTarget } from './control-plane.contract.ts';
import { fakeClock, heartbeat, JOIN_TOKEN, MODEL, makeDeps, registration } from './fixtures.ts';

const ADMIN_KEY = 'test-admin-key';
const json = { 'content-type': 'application/json' };
const bearer = (secret: string) => ({ ...json, authorization: `Bearer ${secret}` });

export function dashboardContract(runtime: string, target: ContractTarget) {
  describe(`dashboard contract (${runtime})`, () => {
    let app: ReturnType<typeof createApp>;
    let clock: ReturnType<typeof fakeClock>;
    const credentials = new Map<string, string>();

    const post = (path: string, body: unknown, headers: Record<string, string>) =>
      app.request(path, { method: 'POST', headers, body: JSON.stringify(body) });
    const register = async (id: string, quantization: string) => {
      const models = [{ name: MODEL, loaded: true, memoryBytes: 150_000_000, quantization }];
      const res = await post(
        '/v1/agents/register',
        registration(id, { models }),
        bearer(JOIN_TOKEN),
      );
      expect(res.status).toBe(200);
      credentials.set(id, ((await res.json()) as { credential: string }).credential);
    };
    const data = async <T>(path: string): Promise<T> => {
      const res = await app.request(`/admin/dashboard${path}`, { headers: bearer(ADMIN_KEY) });
      expect(res.status).toBe(200);
      return (await res.json()) as T;
    };
    /** Routes one chat request: its ticket id and the agent it went to. */
    const route = async () => {
      const res = await post(
        '/v1/chat/completions',
        { model: MODEL, messages: [{ role: 'user', content: 'hi' }] },
        json,
      );
      expect(res.status).toBe(307);
      const ticket = new URL(res.headers.get('location') ?? '').searchParams.get('ticket') ?? '';
      return { jti: jtiOf(ticket) ?? '', agent: String(decodeJwt(ticket).aud) };
    };
    const asAgent = (agent: string, path: string, body: unknown) =>
      post(`/v1/agents/${agent}${path}`, body, bearer(credentials.get(agent) ?? ''));
    const finish = (r: { jti: string; agent: string }, ttftMs: number, outcome = 'success') =>
      asAgent(r.agent, `/jobs/${r.jti}`, {
        outcome,
        model: MODEL,
        promptTokens: 3,
        completionTokens: 10,
        ttftMs,
        durationMs: ttftMs + 50,
      });

    /** Time goes by; the agents keep sending heartbeats (each sits out the ticket's claim window). */
    const later = async (ms: number) => {
      clock.advance(ms);
      for (const id of credentials.keys()) {
        const res = await asAgent(id, '/heartbeat', heartbeat());
        expect(res.status).toBe(200);
      }
    };

    beforeEach(async () => {
      credentials.clear();
      const { store } = await target.freshStore();
      clock = fakeClock();
      app = createApp(await makeDeps(store, clock, { ADMIN_KEY }));
      await register('agent-a', 'Q4_1');
      await register('agent-b', 'Q8_0');
    });

    it('serves the page to anyone, with a strict content policy, and its data only with the admin key', async () => {
      const page = await app.request('/dashboard');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await page.text()).toContain('<script src="/dashboard/app.js"');
      const script = await app.request('/dashboard/app.js');
      expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(await script.text()).toContain('uPlot');
      for (const path of ['fleet', 'decisions', 'requests', 'series']) {
        const none = await app.request(`/admin/dashboard/${path}`);
        expect(none.status).toBe(401);
        const wrong = await app.request(`/admin/dashboard/${path}`, { headers: bearer('nope') });
        expect(wrong.status).toBe(401);
      }
    });

    it('shows each agent with its quantization and its leased and confirmed slots', async () => {
      const first = await route();
      await route();
      await asAgent(first.agent, `/jobs/${first.jti}/admitted`, {});
      const fleet = await data<FleetResponse>('/fleet');
      expect(
        fleet.agents.map((a) => [a.id, a.state, a.breaker, a.models[0]?.quantization]),
      ).toEqual([
        ['agent-a', 'healthy', 'closed', 'Q4_1'],
        ['agent-b', 'healthy', 'closed', 'Q8_0'],
      ]);
      const sum = (f: (a: FleetResponse['agents'][number]) => number) =>
        fleet.agents.reduce((n, a) => n + f(a), 0);
      expect(sum((a) => a.slots.leased)).toBe(2);
      expect(sum((a) => a.slots.confirmed)).toBe(1);
      expect(fleet.agents.find((a) => a.id === first.agent)?.slots.confirmed).toBe(1);
      expect(fleet.agents.every((a) => a.slots.max === 4)).toBe(true);
    });

    it('lists the latest requests and decisions, newest first, with their outcome and scores', async () => {
      const a = await route();
      clock.advance(1000);
      const b = await route();
      await finish(a, 42);
      const { requests } = await data<RequestsResponse>('/requests?limit=10');
      expect(requests.map((r) => [r.id, r.state, r.ttftMs])).toEqual([
        [b.jti, 'issued', null],
        [a.jti, 'success', 42],
      ]);
      expect((await data<RequestsResponse>('/requests?limit=1')).requests).toHaveLength(1);
      const { decisions } = await data<DecisionsResponse>('/decisions');
      expect(decisions.map((d) => [d.requestId, d.chosen])).toEqual([
        [b.jti, b.agent],
        [a.jti, a.agent],
      ]);
      expect(decisions[0]?.ranked.map((r) => r.agentId).sort()).toEqual(['agent-a', 'agent-b']);
      expect(decisions[0]?.ranked[0]?.score).toBeGreaterThan(0);
    });

    it('charts the last hour per minute: requests by outcome, TTFT p50/p95 and tokens', async () => {
      // An hour and more ago: outside the window.
      await finish(await route(), 999);
      await later(61 * 60_000);
      // Two minutes ago: one error.
      await finish(await route(), 500, 'error');
      await later(2 * 60_000);
      // This minute: four successes (TTFT 40, 10, 30, 20) and one still open, 30 s in.
      const now = await Promise.all([route(), route(), route(), route(), route()]);
      for (const [i, ttft] of [40, 10, 30, 20].entries()) await finish(now[i]!, ttft);
      clock.advance(30_000);
      const s = await data<SeriesResponse>('/series');
      expect(s.bucketSeconds).toBe(60);
      expect(s.times).toHaveLength(60);
      expect(s.times.at(-1)).toBe(Math.floor(clock.now() / 60_000) * 60);
      const last = s.times.length - 1;
      const at = (k: string, i: number) => s.requestsPerSecond[k]?.[i];
      expect(at('success', last)).toBeCloseTo(4 / 30);
      expect(at('open', last)).toBeCloseTo(1 / 30);
      expect(s.tokensPerSecond[last]).toBeCloseTo(40 / 30);
      // Nearest rank: p50 is the 2nd of 4 sorted values, p95 the 4th.
      expect([s.ttftP50Ms[last], s.ttftP95Ms[last]]).toEqual([20, 40]);
      expect(at('error', last - 2)).toBeCloseTo(1 / 60);
      expect(s.ttftP50Ms[last - 2]).toBe(500);
      const total = (k: string) => (s.requestsPerSecond[k] ?? []).reduce((n, v) => n + v, 0);
      expect(total('success') * 30).toBeCloseTo(4);
      expect(s.ttftP50Ms.filter((v) => v !== null)).toEqual([500, 20]);
    });
  });
}
