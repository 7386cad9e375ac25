// The admin CLI as an operator runs it (`titan-control-plane … --url`, ADMIN_KEY from the
// environment) against a real Node control plane process in keys mode with a real agent.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, DEMO_MODEL, ROOT, startCluster } from '../../scripts/cluster.ts';
import { JOIN_TOKEN, registration } from '../contract/fixtures.ts';
import { freePort } from './support/ports.ts';

const ADMIN_KEY = 'e2e-admin-cli-key';
let cluster: Cluster;
let dataDir: string;

/** Runs the CLI as a child process: exit code, stdout, stderr. */
async function cli(args: string[], env: Record<string, string> = { ADMIN_KEY }) {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin/control-plane.mjs'), ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A CLI call that must succeed; its JSON output. */
async function ok<T>(args: string[], env?: Record<string, string>): Promise<T> {
  const r = await cli(args, env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

const withUrl = (...args: string[]) => [...args, '--url', cluster.url];
const route = (key = cluster.apiKey ?? '') =>
  fetch(`${cluster.url}/v1/route`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: DEMO_MODEL }),
  });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-admin-cli-'));
  cluster = await startCluster({
    cpPort: await freePort(),
    agentPorts: [await freePort()],
    dataDir,
    joinToken: JOIN_TOKEN,
    cpEnv: { AUTH_MODE: 'keys', ADMIN_KEY },
  });
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('titan-control-plane against a running control plane', () => {
  it('lists agents, drains one (no new work) and undrains it', async () => {
    type Listed = { agents: { id: string; state: string; models: string[] }[] };
    const before = await ok<Listed>(withUrl('agents', 'list'));
    expect(before.agents.map((a) => [a.id, a.models])).toEqual([['agent-1', [DEMO_MODEL]]]);

    expect(await ok(withUrl('agents', 'drain', 'agent-1'))).toEqual({
      id: 'agent-1',
      drained: true,
    });
    expect((await route()).status).toBe(503);
    // The URL may come from CONTROL_PLANE_URL instead of --url.
    const drained = await ok<Listed>(['agents', 'list'], {
      ADMIN_KEY,
      CONTROL_PLANE_URL: cluster.url,
    });
    expect(drained.agents[0]?.state).toBe('drained');

    await ok(withUrl('agents', 'undrain', 'agent-1'));
    const res = await route();
    expect(res.status).toBe(200);
    expect(((await res.json()) as { agent: { id: string } }).agent.id).toBe('agent-1');

    const ghost = await cli(withUrl('agents', 'drain', 'ghost'));
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toMatch(/404.*No agent 'ghost'/);
  });

  it('creates, lists and revokes API keys', async () => {
    const created = await ok<{ id: string; key: string }>(
      withUrl('keys', 'create', '--name', 'ops', '--rate', '60'),
    );
    const models = () =>
      fetch(`${cluster.url}/v1/models`, { headers: { authorization: `Bearer ${created.key}` } });
    expect((await models()).status).toBe(200);
    const listed = await cli(withUrl('keys', 'list'));
    expect(listed.stdout).toContain(created.id);
    expect(listed.stdout).not.toContain(created.key);
    expect(await ok(withUrl('keys', 'revoke', created.id))).toEqual({
      id: created.id,
      revoked: true,
    });
    expect((await models()).status).toBe(401);
  });

  it('creates, lists and revokes join tokens', async () => {
    const created = await ok<{ id: string; token: string; expiresAt: string }>(
      withUrl('join-tokens', 'create', '--name', 'rack-2', '--ttl', '1h'),
    );
    expect(Date.parse(created.expiresAt)).toBeGreaterThan(Date.now());
    const register = () =>
      fetch(`${cluster.url}/v1/agents/register`, {
        method: 'POST',
        headers: { authorization: `Bearer ${created.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(registration('rack-2-gpu', { models: [] })),
      });
    expect((await register()).status).toBe(200);
    const listed = await ok<{ tokens: { id: string }[] }>(withUrl('join-tokens', 'list'));
    expect(listed.tokens.map((t) => t.id)).toContain(created.id);
    await ok(withUrl('join-tokens', 'revoke', created.id));
    expect((await register()).status).toBe(401);
  });

  it('refuses without the right admin key, and says how it is used', async () => {
    const wrong = await cli(withUrl('agents', 'list'), { ADMIN_KEY: 'not-the-key' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/401/);
    const missing = await cli(withUrl('agents', 'list'), {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/ADMIN_KEY is not set/);
    const help = await cli(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/agents drain <id>/);
  });
});
