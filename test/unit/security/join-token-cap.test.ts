// Issue 13, finding 6: one join token registered agents without limit (40 of 40 new ids accepted,
// bounded only by MAX_AGENTS). A real Node control plane over a socket with default settings: a
// burst of new ids on the configured JOIN_TOKEN, then on a created token with its own maxAgents.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane } from '../../../control-plane/node/main.ts';
import { registration } from '../../contract/fixtures.ts';

const json = { 'content-type': 'application/json' };
const JOIN_TOKEN = 'join-token-for-the-cap-test-0123456789';
const ADMIN_KEY = 'admin-key-for-the-cap-test-0123456789';
/** MAX_AGENTS_PER_JOIN_TOKEN when unset. */
const DEFAULT_CAP = 64;

describe('live agents per join token', () => {
  let dir: string;
  let cp: Awaited<ReturnType<typeof startControlPlane>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'titan-joincap-'));
    cp = await startControlPlane({
      PORT: '0',
      DATA_DIR: dir,
      AUTH_MODE: 'keys',
      ADMIN_KEY,
      JOIN_TOKEN,
    });
  });
  afterAll(async () => {
    await cp.close();
    await rm(dir, { recursive: true, force: true });
  });

  const register = async (id: string, token: string) => {
    const res = await fetch(`${cp.url}/v1/agents/register`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${token}` },
      body: JSON.stringify(registration(id)),
    });
    return { status: res.status, body: (await res.json()) as { error?: { message: string } } };
  };
  const burst = (prefix: string, n: number, token: string) =>
    Promise.all(Array.from({ length: n }, (_, i) => register(`${prefix}-${i}`, token)));

  it('admits at most MAX_AGENTS_PER_JOIN_TOKEN live agents on the configured JOIN_TOKEN', async () => {
    const results = await burst('sybil', DEFAULT_CAP + 16, JOIN_TOKEN);
    expect(results.filter((r) => r.status === 200)).toHaveLength(DEFAULT_CAP);
    const refused = results.filter((r) => r.status !== 200);
    expect(refused.map((r) => r.status)).toEqual(Array(16).fill(403));
    expect(refused[0]?.body.error?.message).toContain(`MAX_AGENTS_PER_JOIN_TOKEN=${DEFAULT_CAP}`);
  });

  it("admits at most a created join token's own maxAgents", async () => {
    const created = await fetch(`${cp.url}/admin/join-tokens`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({ name: 'rack-1', maxAgents: 2 }),
    });
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    const results = await burst('rack', 10, token);
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, ...Array(8).fill(403)]);
  });
});
