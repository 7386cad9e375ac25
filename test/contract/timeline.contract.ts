// Request timelines (GET /v1/requests/:id) on better-sqlite3 and on D1: the decision kept on the
// ticket row, admission, first token, end and error of a completed, a failed and an unfollowed
// request; only the admin key and the API key that made the request may read one.
import { beforeEach, describe, expect, it } from 'vitest';
import { jtiOf } from '../../client/wire.ts';
import { createApiKey } from '../../control-plane/core/api-keys.ts';
import { createApp } from '../../control-plane/core/app.ts';
import type { Deps } from '../../control-plane/core/deps.ts';
import { runMaintenance } from '../../control-plane/core/maintenance.ts';
import type { RequestTimeline } from '../../control-plane/core/timeline.ts';
import type { ContractTarget } from './control-plane.contract.ts';
import { fakeClock, JOIN_TOKEN, MODEL, makeDeps, registration } from './fixtures.ts';

const json = { 'content-type': 'application/json' };
const ADMIN_KEY = 'timeline-admin-key-0123456789';

export function timelineContract(runtime: string, target: ContractTarget) {
  describe(`request timelines (${runtime})`, () => {
    let clock: ReturnType<typeof fakeClock>;
    let app: ReturnType<typeof createApp>;
    let deps: Deps;
    let credential = '';
    let clientKey = '';
    let otherKey = '';

    const post = (path: string, body: unknown, headers: Record<string, string>) =>
      app.request(path, {
        method: 'POST',
        headers: { ...json, ...headers },
        body: JSON.stringify(body),
      });
    const asAgent = (path: string, body: unknown) =>
      post(`/v1/agents/agent-a${path}`, body, { authorization: `Bearer ${credential}` });
    /** A chat request redirected with the client's key: its request id (the ticket's jti). */
    const route = async () => {
      const res = await post(
        '/v1/chat/completions',
        { model: MODEL, messages: [{ role: 'user', content: 'hi' }] },
        { authorization: `Bearer ${clientKey}` },
      );
      expect(res.status).toBe(307);
      const ticket = new URL(res.headers.get('location') ?? '').searchParams.get('ticket') ?? '';
      expect(res.headers.get('x-request-id')).toBe(jtiOf(ticket));
      return jtiOf(ticket);
    };
    const timeline = async (id: string, key = ADMIN_KEY) => {
      const res = await app.request(`/v1/requests/${id}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      return { status: res.status, body: (await res.json()) as RequestTimeline };
    };

    beforeEach(async () => {
      clock = fakeClock();
      const fresh = await target.freshStore();
      deps = await makeDeps(fresh.store, clock, { AUTH_MODE: 'keys', ADMIN_KEY });
      app = createApp(deps);
      const reg = await post('/v1/agents/register', registration('agent-a'), {
        authorization: `Bearer ${JOIN_TOKEN}`,
      });
      expect(reg.status).toBe(200);
      credential = ((await reg.json()) as { credential: string }).credential;
      // agent-b lists the model but cannot hold it: the memory filter leaves it out.
      const b = await post(
        '/v1/agents/register',
        registration('agent-b', {
          models: [{ name: MODEL, loaded: false, memoryBytes: 50e9 }],
        }),
        { authorization: `Bearer ${JOIN_TOKEN}` },
      );
      expect(b.status).toBe(200);
      clientKey = (await createApiKey(deps.store.keys, { name: 'client' }, clock.now())).key;
      otherKey = (await createApiKey(deps.store.keys, { name: 'other' }, clock.now())).key;
    });

    it('a completed request: decision, ticket, admission, first token, end', async () => {
      const issuedAt = clock.now();
      const id = await route();
      clock.advance(100);
      expect((await asAgent(`/jobs/${id}/admitted`, {})).status).toBe(200);
      clock.advance(900);
      const done = await asAgent(`/jobs/${id}`, {
        outcome: 'success',
        model: MODEL,
        promptTokens: 12,
        completionTokens: 8,
        ttftMs: 250,
        durationMs: 800,
        reason: 'stop',
      });
      expect(await done.json()).toEqual({ released: true });

      const { status, body } = await timeline(id);
      expect(status).toBe(200);
      expect(body).toMatchObject({
        id,
        model: MODEL,
        state: 'success',
        outcome: 'success',
        ticket: { agent: 'agent-a', issuedAt },
        admittedAt: issuedAt + 100,
        finishedAt: issuedAt + 1000,
        firstTokenAt: issuedAt + 1000 - 800 + 250,
        ttftMs: 250,
        durationMs: 800,
        tokensIn: 12,
        tokensOut: 8,
        finishReason: 'stop',
        error: null,
      });
      expect(body.keyId).toMatch(/\S/);
      expect(body.decision?.policy).toBe('mcda');
      expect(body.decision?.chosen).toBe('agent-a');
      expect(body.decision?.candidates).toEqual([
        { agent: 'agent-a', score: expect.any(Number), components: expect.any(Object) },
      ]);
      expect(body.decision?.candidates[0]?.components).toHaveProperty('memory');
      expect(body.decision?.excluded).toEqual([
        { agent: 'agent-b', filter: 'memory', reason: expect.stringMatching(/\S/) },
      ]);
      expect(body.events.map((e) => e.event)).toEqual([
        'routed',
        'admitted',
        'first_token',
        'ended',
      ]);
      expect(body.events.at(-1)).toEqual({
        at: issuedAt + 1000,
        event: 'ended',
        detail: 'success',
      });
    });

    it('a failed request: its outcome and the agent error', async () => {
      const id = await route();
      await asAgent(`/jobs/${id}/admitted`, {});
      await asAgent(`/jobs/${id}`, {
        outcome: 'error',
        model: MODEL,
        promptTokens: 12,
        completionTokens: 0,
        durationMs: 40,
        reason: 'engine_failure',
        error: 'the engine crashed',
      });
      const { body } = await timeline(id);
      expect(body).toMatchObject({
        state: 'error',
        outcome: 'error',
        error: 'the engine crashed',
        finishReason: 'engine_failure',
        ttftMs: null,
        firstTokenAt: null,
      });
      expect(body.events.map((e) => e.event)).toEqual(['routed', 'admitted', 'ended']);
    });

    it('an unfollowed request: issued, never admitted, expired', async () => {
      const id = await route();
      const open = await timeline(id);
      expect(open.body).toMatchObject({ state: 'issued', outcome: null, admittedAt: null });
      clock.advance(deps.config.urlTicketTtlMs + 1);
      await runMaintenance(deps.store, deps.config, clock.now());
      const { body } = await timeline(id);
      expect(body).toMatchObject({
        state: 'expired',
        outcome: 'expired',
        admittedAt: null,
        finishedAt: clock.now(),
      });
      expect(body.events.map((e) => e.event)).toEqual(['routed', 'ended']);
    });

    it('the admin key and the key that made it may read it; another key gets 404', async () => {
      const id = await route();
      expect((await timeline(id, clientKey)).status).toBe(200);
      expect((await timeline(id, ADMIN_KEY)).status).toBe(200);
      expect((await timeline(id, otherKey)).status).toBe(404);
      expect((await timeline('no-such-request', ADMIN_KEY)).status).toBe(404);
      expect((await app.request(`/v1/requests/${id}`)).status).toBe(401);
    });
  });
}
