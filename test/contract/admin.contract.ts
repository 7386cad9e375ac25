// Admin fleet contract, on better-sqlite3 and on D1: list agents, drain and undrain them.
import { beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../control-plane/core/app.ts';
import { AGENT_CREDENTIAL_HEADER } from '../../protocol/agent-api.ts';
import type { ContractTarget } from './control-plane.contract.ts';
import { fakeClock, heartbeat, JOIN_TOKEN, MODEL, makeDeps, registration } from './fixtures.ts';

const ADMIN_KEY = 'test-admin-key';
const json = { 'content-type': 'application/json' };
const bearer = (secret: string) => ({ ...json, authorization: `Bearer ${secret}` });

export function adminContract(runtime: string, target: ContractTarget) {
  describe(`admin fleet contract (${runtime})`, () => {
    let app: ReturnType<typeof createApp>;
    const credentials = new Map<string, string>();

    const post = (path: string, body: unknown, headers: Record<string, string>) =>
      app.request(path, { method: 'POST', headers, body: JSON.stringify(body) });
    const register = async (id: string) => {
      const res = await post('/v1/agents/register', registration(id), bearer(JOIN_TOKEN));
      expect(res.status).toBe(200);
      credentials.set(id, ((await res.json()) as { credential: string }).credential);
    };
    const admin = (path: string, method = 'POST', key = ADMIN_KEY) =>
      app.request(`/admin${path}`, { method, headers: bearer(key) });
    /** The agent /v1/route picks, and why the others were left out. */
    const route = async () => {
      const res = await post('/v1/route', { model: MODEL, debug: true }, json);
      const body = (await res.json()) as {
        agent?: { id: string };
        debug?: { excluded: { agentId: string; reason: string }[] };
      };
      return { status: res.status, agent: body.agent?.id, excluded: body.debug?.excluded ?? [] };
    };
    const listed = async () =>
      (
        (await (await admin('/agents', 'GET')).json()) as {
          agents: { id: string; state: string; drainedAt: string | null; models: string[] }[];
        }
      ).agents;

    beforeEach(async () => {
      credentials.clear();
      const { store } = await target.freshStore();
      app = createApp(await makeDeps(store, fakeClock(), { ADMIN_KEY }));
      await register('agent-a');
      await register('agent-b');
    });

    it('a drained agent gets no new work until undrained, whatever it says in heartbeats', async () => {
      const drained = await admin('/agents/agent-a/drain');
      expect(drained.status).toBe(200);
      expect(await drained.json()).toEqual({ id: 'agent-a', drained: true });
      for (let i = 0; i < 2; i++) {
        const r = await route();
        expect(r.agent).toBe('agent-b');
        expect(r.excluded).toContainEqual(
          expect.objectContaining({ agentId: 'agent-a', reason: 'drained by an operator' }),
        );
      }
      // Neither a heartbeat nor a restart (registration) ends an operator's drain.
      const hb = await post('/v1/agents/agent-a/heartbeat', heartbeat(), {
        ...json,
        authorization: `Bearer ${credentials.get('agent-a')}`,
      });
      expect(hb.status).toBe(200);
      await post('/v1/agents/register', registration('agent-a'), {
        ...bearer(JOIN_TOKEN),
        [AGENT_CREDENTIAL_HEADER]: credentials.get('agent-a') ?? '',
      });
      const agents = await listed();
      expect(agents.map((a) => [a.id, a.state])).toEqual([
        ['agent-a', 'drained'],
        ['agent-b', 'healthy'],
      ]);
      expect(agents[0]?.drainedAt).not.toBeNull();
      expect(agents[0]?.models).toEqual([MODEL]);
      expect((await route()).agent).toBe('agent-b');

      expect(await (await admin('/agents/agent-a/undrain')).json()).toEqual({
        id: 'agent-a',
        drained: false,
      });
      expect((await route()).excluded).toEqual([]);
      expect((await listed()).map((a) => a.state)).toEqual(['healthy', 'healthy']);
    });

    it('with every server of a model drained, the model is gone and requests find no agent', async () => {
      await admin('/agents/agent-a/drain');
      await admin('/agents/agent-b/drain');
      expect((await route()).status).toBe(503);
      const models = (await (await app.request('/v1/models')).json()) as { data: unknown[] };
      expect(models.data).toEqual([]);
      expect((await app.request('/readyz')).status).toBe(503);
    });

    it('names unknown agents and refuses callers without the admin key', async () => {
      expect((await admin('/agents/ghost/drain')).status).toBe(404);
      expect((await admin('/agents/agent-a/drain', 'POST', 'wrong-key')).status).toBe(401);
      expect((await admin('/agents', 'GET', 'wrong-key')).status).toBe(401);
      expect((await listed()).every((a) => a.drainedAt === null)).toBe(true);
    });
  });
}
