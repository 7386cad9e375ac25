// One contract suite for the control plane, run on better-sqlite3 (Node) and on D1 (workerd).
import { createLocalJWKSet, jwtVerify } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { jtiOf } from '../../client/wire.ts';
import { createApp } from '../../control-plane/core/app.ts';
import type { Deps } from '../../control-plane/core/deps.ts';
import { runMaintenance } from '../../control-plane/core/maintenance.ts';
import type { Store } from '../../control-plane/core/storage/types.ts';
import { ViewCache } from '../../control-plane/core/view-cache.ts';
import { AGENT_CREDENTIAL_HEADER } from '../../protocol/agent-api.ts';
import { fakeClock, heartbeat, JOIN_TOKEN, MODEL, makeDeps, registration } from './fixtures.ts';

export interface ContractTarget {
  /** A store over a fresh, migrated, empty database, and a counter of rows written to it so far. */
  freshStore(): Promise<{ store: Store; rowsWritten(): Promise<number> }>;
}

const auth = { authorization: `Bearer ${JOIN_TOKEN}`, 'content-type': 'application/json' };

export function controlPlaneContract(runtime: string, target: ContractTarget) {
  describe(`control plane contract (${runtime})`, () => {
    let clock: ReturnType<typeof fakeClock>;
    let deps: Deps;
    let app: ReturnType<typeof createApp>;
    let rowsWritten: () => Promise<number>;
    /** Every line the control plane logged, its fields flattened. */
    let logged: Record<string, unknown>[];

    const credentials = new Map<string, string>();
    /** Agent calls after registration carry that agent's credential instead of the join token. */
    const post = (path: string, body: unknown, headers: Record<string, string> = auth) => {
      const agentId = /^\/v1\/agents\/([^/]+)\/(heartbeat|jobs|offline)/.exec(path)?.[1];
      const credential = agentId ? credentials.get(agentId) : undefined;
      const h =
        headers === auth && credential
          ? { ...auth, authorization: `Bearer ${credential}` }
          : headers;
      return app.request(path, { method: 'POST', headers: h, body: JSON.stringify(body) });
    };
    const register = async (id: string, extra = {}) => {
      const res = await post('/v1/agents/register', registration(id, extra));
      if (res.status === 200) {
        credentials.set(id, ((await res.clone().json()) as { credential: string }).credential);
      }
      return res;
    };
    /** A restarted agent process registering again with the credential it kept on disk. */
    const reRegister = (id: string, extra = {}) =>
      post('/v1/agents/register', registration(id, extra), {
        ...auth,
        [AGENT_CREDENTIAL_HEADER]: credentials.get(id) ?? '',
      });
    const chat = (model = MODEL, path = '/v1/chat/completions') =>
      post(
        path,
        { model, messages: [{ role: 'user', content: 'hi' }] },
        {
          'content-type': 'application/json',
        },
      );

    beforeEach(async () => {
      credentials.clear();
      clock = fakeClock();
      const fresh = await target.freshStore();
      rowsWritten = fresh.rowsWritten;
      deps = await makeDeps(fresh.store, clock);
      logged = [];
      const keep = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
        logged.push({ level, msg, ...fields });
      };
      deps.log = { info: keep('info'), warn: keep('warn'), error: keep('error') };
      app = createApp(deps);
    });

    it('registers an agent and redirects a chat request to it with a verifiable ticket', async () => {
      const reg = await register('agent-a');
      expect(reg.status).toBe(200);
      const regBody = (await reg.json()) as { heartbeatIntervalMs: number; issuer: string };
      expect(regBody.heartbeatIntervalMs).toBeGreaterThan(0);

      const res = await chat();
      expect(res.status).toBe(307);
      const location = new URL(res.headers.get('location') ?? '');
      expect(location.origin).toBe(registration('agent-a').url);
      expect(location.pathname).toBe('/v1/chat/completions');
      const ticket = location.searchParams.get('ticket') ?? '';

      const jwks = await (await app.request('/.well-known/jwks.json')).json();
      const { payload, protectedHeader } = await jwtVerify(
        ticket,
        createLocalJWKSet(jwks as never),
        {
          audience: 'agent-a',
          issuer: regBody.issuer,
          algorithms: ['RS256'],
          currentDate: new Date(clock.now()),
        },
      );
      expect(protectedHeader.kid).toBeTruthy();
      expect(payload.model).toBe(MODEL);
      expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
      expect(payload.jti).toBeTruthy();
      // The ticket id is the request id: on the 307, and on the decision's log line.
      expect(res.headers.get('x-request-id')).toBe(payload.jti);
      expect(logged).toContainEqual(
        expect.objectContaining({ msg: 'MCDA agent selected', requestId: payload.jti }),
      );
    });

    it('logs the end of a job under its request id, with how it ended', async () => {
      await register('agent-a');
      const route = await post('/v1/route', { model: MODEL }, {});
      const { requestId, ticket } = (await route.json()) as { requestId: string; ticket: string };
      expect(requestId).toBe(jtiOf(ticket));
      expect(route.headers.get('x-request-id')).toBe(requestId);
      const report = {
        outcome: 'success',
        model: MODEL,
        promptTokens: 5,
        completionTokens: 7,
        ttftMs: 12,
        durationMs: 80,
        reason: 'length',
      };
      expect((await post(`/v1/agents/agent-a/jobs/${requestId}`, report)).status).toBe(200);
      expect(logged.filter((l) => l.msg === 'job ended')).toEqual([
        expect.objectContaining({
          requestId,
          agent: 'agent-a',
          outcome: 'success',
          reason: 'length',
          tokensIn: 5,
          tokensOut: 7,
          ttftMs: 12,
          released: true,
        }),
      ]);
    });

    it("shows each agent's quantization in /v1/status, /v1/models and /api/tags", async () => {
      const models = [
        { name: MODEL, loaded: true, memoryBytes: 150_000_000, quantization: 'Q4_1' },
      ];
      await register('agent-a', { models });
      await register('agent-b', {
        models: [{ ...models[0], quantization: 'Q8_0' }],
        url: 'http://127.0.0.1:9100',
      });
      const status = (await (await app.request('/v1/status')).json()) as {
        agents: { id: string; models: { name: string; quantization: string | null }[] }[];
      };
      expect(status.agents.map((a) => [a.id, a.models[0]?.quantization])).toEqual([
        ['agent-a', 'Q4_1'],
        ['agent-b', 'Q8_0'],
      ]);
      const list = (await (await app.request('/v1/models')).json()) as {
        data: { id: string; quantizations: string[] }[];
      };
      expect(list.data).toEqual([
        expect.objectContaining({ id: MODEL, quantizations: ['Q4_1', 'Q8_0'] }),
      ]);
      const tags = (await (await app.request('/api/tags')).json()) as {
        models: { details: { quantization_level: string } }[];
      };
      expect(tags.models[0]?.details.quantization_level).toBe('Q4_1,Q8_0');
      // The same list again in a heartbeat writes no model rows; a changed type is written.
      const before = await rowsWritten();
      clock.advance(1000);
      await post('/v1/agents/agent-a/heartbeat', heartbeat({ models }));
      expect(await rowsWritten()).toBe(before);
      await post(
        '/v1/agents/agent-a/heartbeat',
        heartbeat({ models: [{ ...models[0], quantization: 'Q4_K_M' }] }),
      );
      const after = (await (await app.request('/v1/status')).json()) as typeof status;
      expect(after.agents[0]?.models[0]?.quantization).toBe('Q4_K_M');
    });

    it('redirects the embedding paths of both dialects with a ticket for the model', async () => {
      await register('agent-a');
      for (const path of ['/v1/embeddings', '/api/embed']) {
        const res = await post(
          path,
          { model: MODEL, input: ['a', 'b'] },
          { 'content-type': 'application/json' },
        );
        expect(res.status).toBe(307);
        const location = new URL(res.headers.get('location') ?? '');
        expect(location.origin).toBe(registration('agent-a').url);
        expect(location.pathname).toBe(path);
        expect(location.searchParams.get('ticket')).toBeTruthy();
      }
      const unknown = await post(
        '/v1/embeddings',
        { model: 'no-such-model', input: 'a' },
        { 'content-type': 'application/json' },
      );
      expect(unknown.status).toBe(404);
      // The whole body is checked before a slot is taken, as for the other dialects.
      const empty = await post(
        '/api/embed',
        { model: MODEL, input: [] },
        { 'content-type': 'application/json' },
      );
      expect(empty.status).toBe(400);
    });

    it('redirects Ollama paths and answers the native route call with JSON', async () => {
      await register('agent-a');
      const ollama = await chat(MODEL, '/api/chat');
      expect(ollama.status).toBe(307);
      expect(new URL(ollama.headers.get('location') ?? '').pathname).toBe('/api/chat');

      const route = await post(
        '/v1/route',
        { model: MODEL },
        { 'content-type': 'application/json' },
      );
      expect(route.status).toBe(200);
      const body = (await route.json()) as { agent: { id: string }; ticket: string };
      expect(body.agent.id).toBe('agent-a');
      expect(body.ticket.split('.')).toHaveLength(3);
    });

    it('answers an unknown model with a 404 in the dialect of the path, never a redirect', async () => {
      await register('agent-a');
      const openai = await chat('no-such-model');
      expect(openai.status).toBe(404);
      // OpenAI types a 404 (an unknown model) as invalid_request_error, as the agent does.
      expect(await openai.json()).toMatchObject({
        error: { code: 'model_not_found', type: 'invalid_request_error', param: 'model' },
      });
      const ollama = await chat('no-such-model', '/api/generate');
      expect(ollama.status).toBe(404);
      const body = (await ollama.json()) as { error: unknown };
      expect(typeof body.error).toBe('string');
    });

    it('rejects malformed requests with 400 and agents without the join token with 401', async () => {
      const bad = await app.request('/v1/chat/completions', { method: 'POST', body: '{nope' });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: { code: 'invalid_json' } });
      const noModel = await post('/v1/chat/completions', { messages: [] }, {});
      expect(noModel.status).toBe(400);
      const rogue = await post('/v1/agents/register', registration('rogue'), {
        authorization: 'Bearer wrong',
      });
      expect(rogue.status).toBe(401);
      const status = (await (await app.request('/v1/status')).json()) as { agents: unknown[] };
      expect(status.agents).toHaveLength(0);
    });

    it('validates the whole body before reserving: 400 for a body without messages, no slot taken', async () => {
      await register('agent-a', { maxConcurrentJobs: 1 });
      for (const body of [
        { model: MODEL },
        { model: MODEL, messages: [] },
        { model: MODEL, messages: [{ role: 'user', content: 5 }] },
      ]) {
        const res = await post('/v1/chat/completions', body, {
          'content-type': 'application/json',
        });
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ error: { code: 'invalid_request' } });
      }
      const noPrompt = await post('/api/generate', { model: MODEL, prompt: 5 }, {});
      expect(noPrompt.status).toBe(400);
      // The one slot is still free.
      expect((await chat()).status).toBe(307);
    });

    it('reserves slots atomically and releases them once per job report', async () => {
      await register('agent-a', { maxConcurrentJobs: 2 });
      const first = await post('/v1/route', { model: MODEL }, {});
      const second = await post('/v1/route', { model: MODEL }, {});
      expect([first.status, second.status]).toEqual([200, 200]);
      const full = await post('/v1/route', { model: MODEL }, {});
      expect(full.status).toBe(503);
      expect(full.headers.get('retry-after')).toBeTruthy();

      const { ticket } = (await first.json()) as { ticket: string };
      const jti = jtiOf(ticket);
      const report = {
        outcome: 'success',
        model: MODEL,
        promptTokens: 5,
        completionTokens: 20,
        ttftMs: 40,
        durationMs: 400,
      };
      const r1 = await post(`/v1/agents/agent-a/jobs/${jti}`, report);
      expect(await r1.json()).toEqual({ released: true });
      const r2 = await post(`/v1/agents/agent-a/jobs/${jti}`, report);
      expect(await r2.json()).toEqual({ released: false });
      expect((await post('/v1/route', { model: MODEL }, {})).status).toBe(200);
      expect((await post('/v1/route', { model: MODEL }, {})).status).toBe(503);
    });

    it('gives a re-registering agent (a restarted process) its slots back', async () => {
      await register('agent-a', { maxConcurrentJobs: 1 });
      expect((await post('/v1/route', { model: MODEL }, {})).status).toBe(200);
      expect((await post('/v1/route', { model: MODEL }, {})).status).toBe(503);
      // The restarted process presents the credential it kept on disk.
      const again = await reRegister('agent-a', { maxConcurrentJobs: 1 });
      expect(again.status).toBe(200);
      expect((await post('/v1/route', { model: MODEL }, {})).status).toBe(200);
    });

    it('never oversubscribes: 1,000 concurrent route calls, 5 agents with 4 slots', {
      timeout: 120_000,
    }, async () => {
      const ids = ['agent-a', 'agent-b', 'agent-c', 'agent-d', 'agent-e'];
      for (const id of ids) await register(id);
      const results = await Promise.all(
        Array.from({ length: 1000 }, () => post('/v1/route', { model: MODEL }, {})),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(20);
      expect(results.filter((r) => r.status === 503)).toHaveLength(980);
      const tickets = await Promise.all(
        results.filter((r) => r.status === 200).map((r) => r.json()),
      );
      const perAgent = new Map<string, number>();
      for (const t of tickets as { agent: { id: string } }[])
        perAgent.set(t.agent.id, (perAgent.get(t.agent.id) ?? 0) + 1);
      expect([...perAgent.values()]).toEqual([4, 4, 4, 4, 4]);
      const status = (await (await app.request('/v1/status')).json()) as {
        agents: { slots: { reserved: number; max: number } }[];
      };
      expect(status.agents.map((a) => a.slots.reserved)).toEqual([4, 4, 4, 4, 4]);
    });

    it('takes an agent out of routing at once when its supervisor reports it dead, idempotently', async () => {
      await register('agent-a', { maxConcurrentJobs: 2 });
      // A ticket in flight on agent-a when its process dies.
      const inFlight = (await (await post('/v1/route', { model: MODEL }, {})).json()) as {
        agent: { id: string };
        ticket: string;
      };
      expect(inFlight.agent.id).toBe('agent-a');
      const jti = jtiOf(inFlight.ticket);
      await register('agent-b', { maxConcurrentJobs: 2 });
      // Warm the scheduler's view cache while agent-a is still healthy.
      expect((await post('/v1/route', { model: MODEL, debug: true }, {})).status).toBe(200);

      const died = { reason: 'agent process died', exitCode: null, signal: 'SIGKILL' };
      const offline = (headers: Record<string, string>, id = 'agent-a') =>
        post(`/v1/agents/${id}/offline`, died, headers);
      const json = { 'content-type': 'application/json' };
      // Only agent-a's own credential may say agent-a died.
      expect((await offline(json)).status).toBe(401);
      expect((await offline({ ...auth })).status).toBe(401); // the join token is not enough
      const bs = { ...json, authorization: `Bearer ${credentials.get('agent-b')}` };
      expect((await offline(bs)).status).toBe(401);
      expect((await offline(bs, 'ghost')).status).toBe(404);
      const first = await post('/v1/agents/agent-a/offline', died);
      expect(first.status).toBe(200);
      expect(await first.json()).toEqual({ offline: true, changed: true });
      const again = await post('/v1/agents/agent-a/offline', died);
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ offline: true, changed: false });

      // At once (no clock advance): status says offline with no slot held; every route avoids it.
      const status = (await (await app.request('/v1/status')).json()) as {
        agents: {
          id: string;
          state: string;
          slots: { reserved: number };
          breaker: { state: string; consecutiveFailures: number };
        }[];
      };
      expect(status.agents.map((a) => [a.id, a.state, a.slots.reserved, a.breaker.state])).toEqual([
        ['agent-a', 'offline', 0, 'closed'],
        ['agent-b', 'healthy', 1, 'closed'],
      ]);
      expect(status.agents.every((a) => a.breaker.consecutiveFailures === 0)).toBe(true);
      const routed = (await (await post('/v1/route', { model: MODEL }, {})).json()) as {
        agent: { id: string };
        fallbacks: { id: string }[];
      };
      expect(routed.agent.id).toBe('agent-b');
      // Not even offered as a fallback: the scheduler's cached views were dropped.
      expect(routed.fallbacks).toEqual([]);
      // Even asking to avoid agent-b does not route to the dead agent-a.
      const full = await post('/v1/route', { model: MODEL, exclude: ['agent-b'] }, {});
      expect(full.status).toBe(503);
      expect(((await full.json()) as { error: { message: string } }).error.message).toContain(
        '1 offline',
      );
      // The dead process's ticket is lost: its late report releases nothing.
      const late = await post(`/v1/agents/agent-a/jobs/${jti}`, {
        outcome: 'success',
        model: MODEL,
        promptTokens: 1,
        completionTokens: 1,
        durationMs: 10,
      });
      expect(await late.json()).toEqual({ released: false });

      // The restarted process registers again (with the credential it kept) and serves.
      const back = await reRegister('agent-a', { maxConcurrentJobs: 2 });
      expect(back.status).toBe(200);
      const toA = await post('/v1/route', { model: MODEL, exclude: ['agent-b'] }, {});
      expect(((await toA.json()) as { agent: { id: string } }).agent.id).toBe('agent-a');
    });

    it('keeps cached agent views exact under heartbeats, registrations and offline reports without emptying the cache', async () => {
      // A TTL longer than the test: only the control plane's own updates can change the copies.
      const views = new ViewCache(3_600_000);
      deps.views = views;
      app = createApp(deps);
      await register('agent-a');
      await register('agent-b');
      expect((await post('/v1/route', { model: MODEL }, {})).status).toBe(200);
      const read = () => views.get(deps.store.agents, MODEL, clock.now());
      const before = await read();
      expect(before.cached).toBe(true);
      const b = before.views.find((v) => v.id === 'agent-b');

      // agent-a's heartbeat is written with less free memory and its lease is not listed.
      clock.advance(15_000);
      const stats = { ...registration('x').stats, memoryFreeBytes: 5e9 };
      expect((await post('/v1/agents/agent-a/heartbeat', heartbeat({ stats }))).status).toBe(200);
      const after = await read();
      expect(after.cached).toBe(true);
      const a = after.views.find((v) => v.id === 'agent-a');
      expect(a?.memoryFreeBytes).toBe(5e9);
      expect(a?.lastHeartbeatAt).toBe(clock.now());
      // agent-b was not re-read: the very same object is still there.
      expect(after.views.find((v) => v.id === 'agent-b')).toBe(b);
      // The cached copy equals a fresh read of the database, agent by agent.
      const fresh = await deps.store.agents.views(MODEL, clock.now());
      const byId = (list: typeof fresh) => [...list].sort((x, y) => x.id.localeCompare(y.id));
      expect(byId(after.views)).toEqual(byId(fresh));

      // A new agent joins the cached list; an agent that reports itself offline reads offline.
      await register('agent-c');
      expect((await read()).views.map((v) => v.id).sort()).toEqual([
        'agent-a',
        'agent-b',
        'agent-c',
      ]);
      await post('/v1/agents/agent-a/offline', { reason: 'stopped' });
      const last = await read();
      expect(last.cached).toBe(true);
      expect(last.views.find((v) => v.id === 'agent-a')?.state).toBe('offline');
      expect(byId(last.views)).toEqual(byId(await deps.store.agents.views(MODEL, clock.now())));
    });

    it('re-registers on heartbeat 404 and keeps liveness from coalesced heartbeats', async () => {
      const unknown = await post('/v1/agents/ghost/heartbeat', heartbeat());
      expect(unknown.status).toBe(404);
      await register('agent-a');
      // Liveness = last written heartbeat + HEARTBEAT_TIMEOUT (30 s) + LIVENESS_WRITE_INTERVAL (15 s).
      clock.advance(29_000);
      expect((await post('/v1/agents/agent-a/heartbeat', heartbeat())).status).toBe(200);
      clock.advance(44_900);
      expect((await chat()).status).toBe(307);
      clock.advance(200);
      const gone = await chat();
      expect(gone.status).toBe(503);
      expect(((await gone.json()) as { error: { message: string } }).error.message).toContain(
        '1 offline',
      );
      expect((await app.request('/readyz')).status).toBe(503);
    });

    it('expires unused tickets, marks silent agents offline and removes them later', async () => {
      await register('agent-a', { maxConcurrentJobs: 1 });
      expect((await chat()).status).toBe(307);
      expect((await chat()).status).toBe(503);
      clock.advance(61_000);
      await post('/v1/agents/agent-a/heartbeat', heartbeat());
      const sweep = await runMaintenance(deps.store, deps.config, clock.now());
      expect(sweep.expiredTickets).toBe(1);
      expect((await chat()).status).toBe(307);

      clock.advance(46_000);
      const offline = await runMaintenance(deps.store, deps.config, clock.now());
      expect(offline.agentsMarkedOffline).toBe(1);
      clock.advance(60_000);
      const removed = await runMaintenance(deps.store, deps.config, clock.now());
      expect(removed.agentsRemoved).toBe(1);
      expect((await chat()).status).toBe(404);
    });

    it("shows an agent's queue and engine load from its last written heartbeat", async () => {
      await register('agent-a');
      clock.advance(15_000); // LIVENESS_WRITE_INTERVAL: this heartbeat is written
      const engineLoad = { running: 2, waiting: 1, kvCacheUsage: 0.25 };
      const hb = heartbeat({ activeJobs: 2, queuedJobs: 3, engineLoad });
      expect((await post('/v1/agents/agent-a/heartbeat', hb)).status).toBe(200);
      const status = (await (await app.request('/v1/status')).json()) as {
        agents: { id: string; stats: { load?: unknown } }[];
      };
      expect(status.agents[0]?.stats.load).toEqual({ queuedJobs: 3, engine: engineLoad });
    });

    it('lists live models in OpenAI and Ollama shapes and reports status', async () => {
      await register('agent-a');
      const models = (await (await app.request('/v1/models')).json()) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toEqual([MODEL]);
      const tags = (await (await app.request('/api/tags')).json()) as {
        models: { name: string }[];
      };
      expect(tags.models.map((m) => m.name)).toEqual([MODEL]);
      expect((await app.request('/readyz')).status).toBe(200);
      expect((await app.request('/healthz')).status).toBe(200);
    });

    it('counts the rows one routed request writes (route + admission + job report)', async () => {
      await register('agent-a');
      const before = await rowsWritten();
      const route = await post('/v1/route', { model: MODEL }, {});
      const { ticket } = (await route.json()) as { ticket: string };
      const jti = jtiOf(ticket);
      expect((await post(`/v1/agents/agent-a/jobs/${jti}/admitted`, {})).status).toBe(200);
      const report = {
        outcome: 'success',
        model: MODEL,
        promptTokens: 5,
        completionTokens: 20,
        durationMs: 400,
      };
      expect(await (await post(`/v1/agents/agent-a/jobs/${jti}`, report)).json()).toEqual({
        released: true,
      });
      const perRequest = (await rowsWritten()) - before;
      console.log(`[write budget] ${runtime}: ${perRequest} rows written per routed request`);
      expect(perRequest).toBeGreaterThanOrEqual(4);
      // ADR 0003: 7 rows on D1, 4 on SQLite (lease insert, admission, report, tokens/s).
      expect(perRequest).toBeLessThanOrEqual(7);
    });

    it.each([
      { name: 'Node defaults', env: {} as Record<string, string>, floor: 240, ceiling: 250 },
      {
        name: 'wrangler.toml settings',
        env: { LIVENESS_WRITE_INTERVAL: '120s', LOAD_WRITE_INTERVAL: '60s' },
        floor: 30,
        ceiling: 35,
      },
    ])(
      'coalesces heartbeats within the write budget ($name)',
      { timeout: 60_000 },
      async ({ name, env, floor, ceiling }) => {
        deps = await makeDeps(deps.store, clock, env);
        app = createApp(deps);
        await register('agent-a');
        // One hour of 5 s heartbeats from a busy agent: noisy CPU load, memory and RTT.
        let seed = 7;
        const noise = () => {
          seed = (seed * 1103515245 + 12345) % 2 ** 31;
          return seed / 2 ** 31;
        };
        const before = await rowsWritten();
        for (let t = 0; t < 720; t++) {
          clock.advance(5_000);
          const stats = {
            ...registration('x').stats,
            cpuLoadPercent: 100 * noise(),
            memoryFreeBytes: 20e9 * (1 - 0.02 * noise()),
          };
          const res = await post(
            '/v1/agents/agent-a/heartbeat',
            heartbeat({ stats, activeJobs: t % 4, rttMs: 3 + 3 * noise() }),
          );
          expect(res.status).toBe(200);
        }
        const perHour = (await rowsWritten()) - before;
        console.log(
          `[write budget] ${runtime}, ${name}: ${perHour} rows written per agent per hour`,
        );
        // Liveness writes are the floor; noise must add (almost) nothing.
        expect(perHour).toBeGreaterThanOrEqual(floor);
        expect(perHour).toBeLessThanOrEqual(ceiling);
        // The agent stayed live throughout.
        expect((await chat()).status).toBe(307);
      },
    );
  });
}
