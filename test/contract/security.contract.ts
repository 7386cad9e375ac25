// Security contract, on better-sqlite3 and on D1: join tokens, agent credentials, API keys, quotas.
import { beforeEach, describe, expect, it } from 'vitest';
import { ticketClaims } from '../../client/wire.ts';
import { createApp } from '../../control-plane/core/app.ts';
import { CredentialCache } from '../../control-plane/core/credential-cache.ts';
import type { Deps } from '../../control-plane/core/deps.ts';
import type { Store } from '../../control-plane/core/storage/types.ts';
import { sha256HexSync } from '../../control-plane/node/sha256.ts';
import { AGENT_CREDENTIAL_HEADER } from '../../protocol/agent-api.ts';
import type { ContractTarget } from './control-plane.contract.ts';
import { fakeClock, heartbeat, JOIN_TOKEN, MODEL, makeDeps, registration } from './fixtures.ts';

export const ADMIN_KEY = 'test-admin-key';
const json = { 'content-type': 'application/json' };
const bearer = (secret: string) => ({ ...json, authorization: `Bearer ${secret}` });
const chatBody = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] };

export function securityContract(runtime: string, target: ContractTarget) {
  describe(`security contract (${runtime})`, () => {
    let clock: ReturnType<typeof fakeClock>;
    let store: Store;
    let app: ReturnType<typeof createApp>;

    const setup = async (env: Record<string, string> = {}, extra: Partial<Deps> = {}) => {
      const deps = await makeDeps(store, clock, { AUTH_MODE: 'keys', ADMIN_KEY, ...env });
      app = createApp({ ...deps, ...extra });
    };
    const post = (path: string, body: unknown, headers: Record<string, string> = json) =>
      app.request(path, { method: 'POST', headers, body: JSON.stringify(body) });
    const register = async (id: string, headers: Record<string, string> = bearer(JOIN_TOKEN)) => {
      const res = await post('/v1/agents/register', registration(id), headers);
      const body = res.status === 200 ? ((await res.json()) as { credential: string }) : undefined;
      return { status: res.status, credential: body?.credential ?? '' };
    };
    const admin = (path: string, body?: unknown, method = 'POST') =>
      app.request(`/admin${path}`, {
        method,
        headers: bearer(ADMIN_KEY),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const newKey = async (extra: Record<string, unknown> = {}) =>
      (await (await admin('/api-keys', { name: 'test', ...extra })).json()) as {
        id: string;
        key: string;
      };

    beforeEach(async () => {
      clock = fakeClock();
      store = (await target.freshStore()).store;
      await setup();
    });

    describe('agents', () => {
      it('refuses registration without the join token or with a wrong one', async () => {
        expect((await register('rogue', json)).status).toBe(401);
        expect((await register('rogue', bearer('not-the-token'))).status).toBe(401);
        const status = await app.request('/v1/status', { headers: bearer((await newKey()).key) });
        expect(((await status.json()) as { agents: unknown[] }).agents).toEqual([]);
      });

      it('answers registration with a credential that heartbeats and job reports must carry', async () => {
        const a = await register('agent-a');
        const b = await register('agent-b');
        expect(a.status).toBe(200);
        expect(a.credential).toMatch(/^tca-/);
        const beat = (id: string, headers: Record<string, string>) =>
          post(`/v1/agents/${id}/heartbeat`, heartbeat(), headers);
        expect((await beat('agent-a', json)).status).toBe(401);
        expect((await beat('agent-a', bearer(JOIN_TOKEN))).status).toBe(401);
        expect((await beat('agent-a', bearer(b.credential))).status).toBe(401);
        expect((await beat('agent-a', bearer(a.credential))).status).toBe(200);
        const report = {
          outcome: 'success',
          model: MODEL,
          promptTokens: 1,
          completionTokens: 1,
          durationMs: 1,
        };
        const stolen = await post('/v1/agents/agent-a/jobs/j1', report, bearer(b.credential));
        expect(stolen.status).toBe(401);
        const own = await post('/v1/agents/agent-a/jobs/j1', report, bearer(a.credential));
        expect(own.status).toBe(200);
      });

      it('refuses the old credential at once after a registration, also from the credential cache', async () => {
        for (const extra of [{}, { credentials: new CredentialCache(sha256HexSync) }]) {
          store = (await target.freshStore()).store;
          await setup({}, extra);
          const first = await register('agent-a');
          const beat = (credential: string) =>
            post('/v1/agents/agent-a/heartbeat', heartbeat(), bearer(credential));
          // Verified twice: the second comes from the cache where there is one.
          expect((await beat(first.credential)).status).toBe(200);
          expect((await beat(first.credential)).status).toBe(200);
          const again = await post('/v1/agents/register', registration('agent-a'), {
            ...bearer(JOIN_TOKEN),
            [AGENT_CREDENTIAL_HEADER]: first.credential,
          });
          const second = ((await again.json()) as { credential: string }).credential;
          expect(second).not.toBe(first.credential);
          expect((await beat(first.credential)).status).toBe(401);
          const report = {
            outcome: 'success',
            model: MODEL,
            promptTokens: 1,
            completionTokens: 1,
            durationMs: 1,
          };
          expect(
            (await post('/v1/agents/agent-a/jobs/j1', report, bearer(first.credential))).status,
          ).toBe(401);
          expect(
            (await post('/v1/agents/agent-a/offline', { reason: 'x' }, bearer(first.credential)))
              .status,
          ).toBe(401);
          expect((await beat(second)).status).toBe(200);
          expect((await beat(second)).status).toBe(200);
          // Another agent's cached credential opens nothing of agent-a's.
          const b = await register('agent-b');
          expect(
            (await post('/v1/agents/agent-b/heartbeat', heartbeat(), bearer(b.credential))).status,
          ).toBe(200);
          expect((await beat(b.credential)).status).toBe(401);
        }
      });

      it('never lets a new registration take over the id of a live agent', async () => {
        const first = await register('agent-a');
        // Another machine with the join token but not agent-a's credential.
        const takeover = await post(
          '/v1/agents/register',
          {
            ...registration('agent-a'),
            url: 'http://10.6.6.6:8081',
          },
          bearer(JOIN_TOKEN),
        );
        expect(takeover.status).toBe(409);
        expect(((await takeover.json()) as { error: { code: string } }).error.code).toBe(
          'agent_id_taken',
        );
        // The rogue never receives a request: every ticket goes to the real agent's URL.
        const key = (await newKey()).key;
        const res = await post('/v1/chat/completions', chatBody, bearer(key));
        expect(res.status).toBe(307);
        expect(new URL(res.headers.get('location') ?? '').origin).toBe(registration('agent-a').url);
        // The real agent can re-register with its credential (e.g. after a lost response).
        const again = await post('/v1/agents/register', registration('agent-a'), {
          ...bearer(JOIN_TOKEN),
          [AGENT_CREDENTIAL_HEADER]: first.credential,
        });
        expect(again.status).toBe(200);
        // Once the agent is silent past HEARTBEAT_TIMEOUT + LIVENESS_WRITE_INTERVAL its id is free.
        clock.advance(44_000);
        expect((await register('agent-a')).status).toBe(409);
        clock.advance(2_000);
        expect((await register('agent-a')).status).toBe(200);
      });

      it('admits agents with created join tokens until they expire or are revoked', async () => {
        await setup({ JOIN_TOKEN: '' });
        const expiring = (await (
          await admin('/join-tokens', { name: 'rack-1', ttl: '1h' })
        ).json()) as { id: string; token: string; expiresAt: string };
        expect(expiring.token).toMatch(/^tj-/);
        expect((await register('agent-a', bearer(JOIN_TOKEN))).status).toBe(401);
        expect((await register('agent-a', bearer(expiring.token))).status).toBe(200);
        clock.advance(3_600_001);
        expect((await register('agent-b', bearer(expiring.token))).status).toBe(401);

        const revocable = (await (await admin('/join-tokens', { name: 'rack-2' })).json()) as {
          id: string;
          token: string;
        };
        expect((await register('agent-c', bearer(revocable.token))).status).toBe(200);
        expect((await admin(`/join-tokens/${revocable.id}`, undefined, 'DELETE')).status).toBe(200);
        expect((await register('agent-d', bearer(revocable.token))).status).toBe(401);
        const list = (await (await admin('/join-tokens', undefined, 'GET')).json()) as {
          tokens: { id: string; revokedAt: string | null }[];
        };
        expect(list.tokens.map((t) => [t.id, t.revokedAt !== null])).toEqual([
          [expiring.id, false],
          [revocable.id, true],
        ]);
        expect(JSON.stringify(list)).not.toContain(revocable.token);
      });
    });

    describe('registration policy', () => {
      const tryRegister = (id: string, overrides: Record<string, unknown> = {}) =>
        post('/v1/agents/register', { ...registration(id), ...overrides }, bearer(JOIN_TOKEN));

      it('refuses agent URLs with credentials or a query, and link-local hosts', async () => {
        const withUser = await tryRegister('rogue', { url: 'http://user:pass@169.254.169.254/x' });
        expect(withUser.status).toBe(400);
        expect(await withUser.json()).toMatchObject({ error: { param: 'url' } });
        expect((await tryRegister('rogue', { url: 'http://169.254.169.254' })).status).toBe(403);
        expect((await tryRegister('rogue', { url: 'http://[fe80::1]:8081' })).status).toBe(403);
        expect((await tryRegister('rogue', { url: 'http://10.0.0.5:8081/?a=1' })).status).toBe(400);
        for (const url of [
          'javascript:alert(1)',
          'file:///etc/passwd',
          'http://a\r\nSet-Cookie:x',
        ]) {
          expect((await tryRegister('rogue', { url })).status, url).toBe(400);
        }
        expect((await tryRegister('plain', { url: 'http://10.0.0.5:8081' })).status).toBe(200);
      });

      it('keeps agent URLs to AGENT_URL_HOSTS when it is set', async () => {
        await setup({ AGENT_URL_HOSTS: '10.0.*, *.gpu.internal' });
        expect((await tryRegister('a', { url: 'http://10.0.3.4:8081' })).status).toBe(200);
        expect((await tryRegister('b', { url: 'https://n1.gpu.internal' })).status).toBe(200);
        const elsewhere = await tryRegister('c', { url: 'http://127.0.0.1:9000' });
        expect(elsewhere.status).toBe(403);
        expect(await elsewhere.json()).toMatchObject({ error: { code: 'forbidden' } });
      });

      it('caps live agents at MAX_AGENTS; registered agents may still register again', async () => {
        await setup({ MAX_AGENTS: '2' });
        const a = await register('agent-a');
        expect(a.status).toBe(200);
        expect((await register('agent-b')).status).toBe(200);
        const third = await tryRegister('agent-c');
        expect(third.status).toBe(403);
        expect(JSON.stringify(await third.json())).toContain('MAX_AGENTS');
        const again = await post('/v1/agents/register', registration('agent-a'), {
          ...bearer(JOIN_TOKEN),
          [AGENT_CREDENTIAL_HEADER]: a.credential,
        });
        expect(again.status).toBe(200);
      });

      it('caps live agents per join token (MAX_AGENTS_PER_JOIN_TOKEN); a counted id may return', async () => {
        await setup({ MAX_AGENTS_PER_JOIN_TOKEN: '2' });
        const a = await register('agent-a');
        expect(a.status).toBe(200);
        expect((await register('agent-b')).status).toBe(200);
        const third = await tryRegister('agent-c');
        expect(third.status).toBe(403);
        const refusal = (await third.json()) as { error: { code: string; message: string } };
        expect(refusal.error.code).toBe('forbidden');
        expect(refusal.error.message).toContain('MAX_AGENTS_PER_JOIN_TOKEN=2');
        expect(await store.agents.get('agent-c')).toBeUndefined();
        expect((await store.agents.get('agent-a'))?.joinTokenId).toBe('env');
        const again = await post('/v1/agents/register', registration('agent-a'), {
          ...bearer(JOIN_TOKEN),
          [AGENT_CREDENTIAL_HEADER]: a.credential,
        });
        expect(again.status).toBe(200);
        // Another join token has its own count; an agent gone offline no longer counts.
        const other = (await (await admin('/join-tokens', { name: 'rack-2' })).json()) as {
          id: string;
          token: string;
        };
        expect((await register('agent-c', bearer(other.token))).status).toBe(200);
        expect((await store.agents.get('agent-c'))?.joinTokenId).toBe(other.id);
        await store.agents.markOffline('agent-b', clock.now());
        expect((await register('agent-d')).status).toBe(200);
        expect((await register('agent-e')).status).toBe(403);
        // So does an agent silent past HEARTBEAT_TIMEOUT + LIVENESS_WRITE_INTERVAL.
        clock.advance(46_000);
        expect((await register('agent-e')).status).toBe(200);
        expect((await register('agent-f')).status).toBe(200);
        expect((await register('agent-g')).status).toBe(403);
      });

      it('admits exactly the cap when one join token registers many agents at once', async () => {
        await setup({ MAX_AGENTS_PER_JOIN_TOKEN: '3' });
        const ids = Array.from({ length: 12 }, (_, i) => `burst-${i}`);
        const statuses = await Promise.all(ids.map(async (id) => (await register(id)).status));
        expect(statuses.filter((s) => s === 200)).toHaveLength(3);
        expect(statuses.filter((s) => s !== 200)).toEqual(Array(9).fill(403));
        expect((await store.agents.list()).length).toBe(3);
      });

      it('lets a created join token carry its own maxAgents', async () => {
        await setup({ JOIN_TOKEN: '', MAX_AGENTS_PER_JOIN_TOKEN: '5' });
        expect((await admin('/join-tokens', { name: 'bad', maxAgents: 0 })).status).toBe(400);
        const one = (await (await admin('/join-tokens', { name: 'one', maxAgents: 1 })).json()) as {
          id: string;
          token: string;
          maxAgents: number | null;
        };
        expect(one.maxAgents).toBe(1);
        expect((await register('agent-a', bearer(one.token))).status).toBe(200);
        const second = await post(
          '/v1/agents/register',
          registration('agent-b'),
          bearer(one.token),
        );
        expect(second.status).toBe(403);
        expect(JSON.stringify(await second.json())).toContain(`'${one.id}'`);
        const list = (await (await admin('/join-tokens', undefined, 'GET')).json()) as {
          tokens: { id: string; maxAgents: number | null }[];
        };
        expect(list.tokens).toEqual([expect.objectContaining({ id: one.id, maxAgents: 1 })]);
      });

      it('does not cap agents per token in development mode, where none is needed', async () => {
        await setup({ AUTH_MODE: 'development', JOIN_TOKEN: '', MAX_AGENTS_PER_JOIN_TOKEN: '1' });
        for (const id of ['agent-a', 'agent-b', 'agent-c']) {
          expect((await register(id, json)).status, id).toBe(200);
        }
        expect((await store.agents.get('agent-b'))?.joinTokenId).toBeNull();
      });

      it('clamps slot claims to what the stats support and refuses free memory over total', async () => {
        const greedy = await tryRegister('greedy', { maxConcurrentJobs: 1024 });
        expect(greedy.status).toBe(200);
        // registration() claims 2 CPU cores and no GPU: 2 x SLOTS_PER_CPU_CORE slots at most.
        expect(await greedy.json()).toMatchObject({ maxConcurrentJobs: 16 });
        const status = await app.request('/v1/status', { headers: bearer((await newKey()).key) });
        const { agents } = (await status.json()) as {
          agents: { id: string; slots: { max: number } }[];
        };
        expect(agents.find((x) => x.id === 'greedy')?.slots.max).toBe(16);
        const stats = { ...registration('x').stats, memoryTotalBytes: 8e9, memoryFreeBytes: 1e12 };
        expect((await tryRegister('liar', { stats })).status).toBe(400);
      });
    });

    describe('clients', () => {
      it('needs an API key on every client endpoint; 401 without, with a bad or a revoked key', async () => {
        await register('agent-a');
        const paths = ['/v1/chat/completions', '/v1/completions', '/api/chat', '/api/generate'];
        for (const path of [...paths, '/v1/route']) {
          const res = await post(path, chatBody);
          expect(res.status, path).toBe(401);
          const body = (await res.json()) as { error: unknown };
          if (path.startsWith('/api/')) expect(typeof body.error).toBe('string');
          else
            expect(body.error).toMatchObject({
              code: 'invalid_api_key',
              type: 'authentication_error',
            });
        }
        for (const path of ['/v1/models', '/api/tags', '/v1/status']) {
          expect((await app.request(path)).status, path).toBe(401);
        }
        expect((await post('/v1/route', chatBody, bearer('sk-titan-made-up'))).status).toBe(401);

        const { id, key } = await newKey();
        const ok = await post('/v1/route', chatBody, bearer(key));
        expect(ok.status).toBe(200);
        const { ticket } = (await ok.json()) as { ticket: string };
        expect(ticketClaims(ticket).sub).toBe(id);
        // x-api-key works where nothing redirects; on redirected paths clients would resend it to
        // the agent, so it is refused there (400, in each dialect's shape), even with Bearer too.
        const xKey = { ...json, 'x-api-key': key };
        expect((await post('/v1/route', chatBody, xKey)).status).toBe(200);
        for (const path of [
          '/v1/chat/completions',
          '/v1/completions',
          '/api/chat',
          '/api/generate',
        ]) {
          const res = await post(path, chatBody, { ...xKey, authorization: `Bearer ${key}` });
          expect(res.status, path).toBe(400);
          const body = (await res.json()) as { error: unknown };
          if (path.startsWith('/api/')) expect(body.error).toMatch(/Authorization: Bearer/);
          else
            expect(body.error).toMatchObject({ param: 'x-api-key', type: 'invalid_request_error' });
        }

        expect((await admin(`/api-keys/${id}`, undefined, 'DELETE')).status).toBe(200);
        expect((await post('/v1/route', chatBody, bearer(key))).status).toBe(401);
        expect((await admin(`/api-keys/${id}`, undefined, 'DELETE')).status).toBe(404);
      });

      it('answers 429 with Retry-After over the rate limit and over the concurrency quota', async () => {
        const big = registration('agent-a', { maxConcurrentJobs: 64 });
        expect((await post('/v1/agents/register', big, bearer(JOIN_TOKEN))).status).toBe(200);
        const limited = await newKey({ rateLimitPerMinute: 4 });
        const call = (path: string, key: string) => post(path, chatBody, bearer(key));
        for (let i = 0; i < 4; i++) expect((await call('/v1/route', limited.key)).status).toBe(200);
        const over = await call('/v1/chat/completions', limited.key);
        expect(over.status).toBe(429);
        expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(await over.json()).toMatchObject({
          error: { code: 'rate_limit_exceeded', type: 'rate_limit_error' },
        });
        const ollama = await call('/api/chat', limited.key);
        expect(ollama.status).toBe(429);
        expect(typeof ((await ollama.json()) as { error: unknown }).error).toBe('string');
        clock.advance(20_000);
        expect((await call('/v1/route', limited.key)).status).toBe(200);
        expect((await call('/v1/route', limited.key)).status).toBe(429);

        const single = await newKey({ maxConcurrent: 1 });
        expect((await call('/v1/route', single.key)).status).toBe(200);
        const busy = await call('/v1/route', single.key);
        expect(busy.status).toBe(429);
        expect(await busy.json()).toMatchObject({ error: { code: 'concurrency_limit_exceeded' } });
      });

      it('says which auth mode it runs in', async () => {
        const key = (await newKey()).key;
        const keys = await (await app.request('/v1/status', { headers: bearer(key) })).json();
        expect(keys).toMatchObject({ auth: 'keys', joinTokenRequired: true });
        await setup({ AUTH_MODE: 'development' });
        const dev = await (await app.request('/v1/status')).json();
        expect(dev).toMatchObject({ auth: 'development' });
      });

      it('protects the admin API with ADMIN_KEY and turns it off without one', async () => {
        const wrong = await app.request('/admin/api-keys', { headers: bearer('guess') });
        expect(wrong.status).toBe(401);
        await setup({ ADMIN_KEY: '' });
        expect((await app.request('/admin/api-keys', { headers: bearer('') })).status).toBe(403);
      });
    });

    describe('ticket limits', () => {
      it("puts the client's max_tokens (or the MAX_TOKENS cap) in the ticket and refuses more", async () => {
        await setup({ AUTH_MODE: 'development', MAX_TOKENS: '1000' });
        const big = registration('agent-a', { maxConcurrentJobs: 64 });
        expect((await post('/v1/agents/register', big, bearer(JOIN_TOKEN))).status).toBe(200);
        const ticketOf = async (path: string, body: unknown) => {
          const res = await post(path, body);
          expect(res.status).toBe(307);
          const t = new URL(res.headers.get('location') ?? '').searchParams.get('ticket') ?? '';
          return ticketClaims(t);
        };
        const asked = await ticketOf('/v1/chat/completions', { ...chatBody, max_tokens: 50 });
        expect(asked).toMatchObject({ max_tokens: 50, model: MODEL });
        expect(asked.nbf).toBe(asked.iat);
        expect(await ticketOf('/v1/chat/completions', chatBody)).toMatchObject({
          max_tokens: 1000,
        });
        const newer = { ...chatBody, max_completion_tokens: 70 };
        expect(await ticketOf('/v1/chat/completions', newer)).toMatchObject({ max_tokens: 70 });
        const legacy = { model: MODEL, prompt: 'x' };
        expect(await ticketOf('/v1/completions', legacy)).toMatchObject({ max_tokens: 16 });
        const ollama = { ...chatBody, options: { num_predict: 30 } };
        expect(await ticketOf('/api/chat', ollama)).toMatchObject({ max_tokens: 30 });
        const unlimited = { ...chatBody, options: { num_predict: -1 } };
        expect(await ticketOf('/api/chat', unlimited)).toMatchObject({ max_tokens: 1000 });

        const tooMany = await post('/v1/chat/completions', { ...chatBody, max_tokens: 1001 });
        expect(tooMany.status).toBe(400);
        expect(await tooMany.json()).toMatchObject({ error: { param: 'max_tokens' } });
      });
    });
  });
}
