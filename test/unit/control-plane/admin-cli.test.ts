// The admin CLI on a real SQLite file (a created key authenticates, a revoked one does not; agents
// drain and undrain), and the secrets it generates for a deployment.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { createTicketVerifier } from '../../../agent/tickets.ts';
import { findApiKey } from '../../../control-plane/core/api-keys.ts';
import { createTicketSigner, TICKET_ALGS } from '../../../control-plane/core/tickets.ts';
import {
  ADMIN_KEY_PREFIX,
  runAdminCommand,
  UsageError,
} from '../../../control-plane/node/admin-cli.ts';
import { openSqlite } from '../../../control-plane/node/sqlite.ts';
import { MODEL, registration } from '../../contract/fixtures.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('titan-control-plane keys / join-tokens', () => {
  it('creates, lists and revokes API keys and join tokens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'titan-cli-'));
    dirs.push(dir);
    const env = { DATA_DIR: dir };
    const created = (await runAdminCommand(
      ['keys', 'create', '--name', 'ci', '--rate', '60'],
      env,
    )) as {
      id: string;
      key: string;
      rateLimitPerMinute: number;
    };
    expect(created.key).toMatch(/^sk-titan-/);
    expect(created.rateLimitPerMinute).toBe(60);
    const check = async () => {
      const { store, sqlite } = openSqlite(join(dir, 'control-plane.db'));
      const found = await findApiKey(store.keys, created.key);
      sqlite.close();
      return found?.id;
    };
    expect(await check()).toBe(created.id);
    const listed = (await runAdminCommand(['keys', 'list'], env)) as { keys: { id: string }[] };
    expect(JSON.stringify(listed)).not.toContain(created.key);
    expect(listed.keys.map((k) => k.id)).toEqual([created.id]);
    expect(await runAdminCommand(['keys', 'revoke', created.id], env)).toEqual({
      id: created.id,
      revoked: true,
    });
    expect(await check()).toBeUndefined();
    await expect(runAdminCommand(['keys', 'revoke', created.id], env)).rejects.toThrow(
      /404.*No live API key/,
    );

    const token = (await runAdminCommand(
      ['join-tokens', 'create', '--name', 'rack', '--ttl', '2h', '--max-agents', '3'],
      env,
    )) as {
      token: string;
      expiresAt: string;
      maxAgents: number | null;
    };
    expect(token.token).toMatch(/^tj-/);
    expect(token.expiresAt).not.toBeNull();
    expect(token.maxAgents).toBe(3);
    await expect(
      runAdminCommand(['join-tokens', 'create', '--name', 'r', '--max-agents', '0'], env),
    ).rejects.toThrow(/--max-agents must be a positive integer/);
    await expect(runAdminCommand(['keys', 'create'], env)).rejects.toThrow(/--name/);
    await expect(runAdminCommand(['nonsense'], env)).rejects.toThrow(/Usage/);
  });
});

describe('titan-control-plane agents', () => {
  it('drains and undrains an agent in the local database', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'titan-cli-'));
    dirs.push(dir);
    const env = { DATA_DIR: dir };
    const path = join(dir, 'control-plane.db');
    const open = openSqlite(path);
    const reg = registration('gpu-1');
    await open.store.agents.register({ ...reg, maxJobs: reg.maxConcurrentJobs }, Date.now());
    open.sqlite.close();
    const state = async () => {
      const { store, sqlite } = openSqlite(path);
      const views = await store.agents.views(MODEL, Date.now());
      sqlite.close();
      return views.map((v) => v.state);
    };

    expect(await runAdminCommand(['agents', 'drain', 'gpu-1'], env)).toEqual({
      id: 'gpu-1',
      drained: true,
    });
    expect(await state()).toEqual(['drained']);
    const listed = (await runAdminCommand(['agents', 'list'], env)) as {
      agents: { id: string; state: string }[];
    };
    expect(listed.agents.map((a) => [a.id, a.state])).toEqual([['gpu-1', 'drained']]);
    await runAdminCommand(['agents', 'undrain', 'gpu-1'], env);
    expect(await state()).toEqual(['healthy']);
    await expect(runAdminCommand(['agents', 'drain', 'ghost'], env)).rejects.toThrow(/404/);
    await expect(runAdminCommand(['agents', 'drain'], env)).rejects.toThrow(UsageError);
  });

  it("shows a request's timeline from the local database", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'titan-cli-'));
    dirs.push(dir);
    const env = { DATA_DIR: dir };
    const open = openSqlite(join(dir, 'control-plane.db'));
    const reg = registration('cpu-1');
    const now = Date.now();
    await open.store.agents.register({ ...reg, maxJobs: reg.maxConcurrentJobs }, now);
    const decision = { policy: 'mcda', candidates: [], excluded: [], moreCandidates: 0 };
    const lease = { jti: 'req-1', agentId: 'cpu-1', model: MODEL, client: 'key_1' };
    const taken = await open.store.tickets.takeLease(
      {
        ...lease,
        issuedAt: now,
        expiresAt: now + 60_000,
        claimUntil: now + 3000,
        decision: JSON.stringify(decision),
      },
      now - 60_000,
    );
    expect(taken).toBeDefined();
    open.sqlite.close();
    const shown = (await runAdminCommand(['requests', 'show', 'req-1'], env)) as {
      id: string;
      state: string;
      decision: { policy: string; chosen: string };
      events: { event: string }[];
    };
    expect(shown).toMatchObject({ id: 'req-1', state: 'issued', keyId: 'key_1' });
    expect(shown.decision).toMatchObject({ policy: 'mcda', chosen: 'cpu-1' });
    expect(shown.events.map((e) => e.event)).toEqual(['routed']);
    await expect(runAdminCommand(['requests', 'show', 'nope'], env)).rejects.toThrow(/404/);
    await expect(runAdminCommand(['requests', 'show'], env)).rejects.toThrow(UsageError);
  });

  it('needs ADMIN_KEY to call a remote control plane', async () => {
    const call = runAdminCommand(['agents', 'list', '--url', 'http://127.0.0.1:9'], {});
    await expect(call).rejects.toThrow(/ADMIN_KEY is not set/);
  });

  it('prints the usage for --help', async () => {
    expect(await runAdminCommand(['--help'], {})).toMatch(/agents drain <id>/);
    expect(await runAdminCommand(['keys', '--help'], {})).toMatch(/generate-ticket-key/);
  });
});

describe('titan-control-plane keys generate-*', () => {
  it.each(TICKET_ALGS)('prints a PKCS#8 %s key that signs tickets agents verify', async (alg) => {
    const pem = (await runAdminCommand(
      ['keys', 'generate-ticket-key', '--alg', alg],
      {},
    )) as string;
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n?$/);
    const signer = await createTicketSigner({ issuer: 'titancompute', privateKeyPem: pem, alg });
    const now = Date.now();
    const ticket = await signer.sign({
      sub: 'key_test',
      aud: 'gpu-1',
      jti: 'jti-1',
      model: MODEL,
      maxTokens: 16,
      issuedAtMs: now,
      expiresAtMs: now + 60_000,
      registration: now,
    });
    const verifier = createTicketVerifier({
      audience: 'gpu-1',
      issuer: 'titancompute',
      keys: createLocalJWKSet(signer.jwks()),
      registeredAt: now,
    });
    expect(await verifier.verify(ticket)).toMatchObject({ jti: 'jti-1', model: MODEL });
    // A second key is a different key: its tickets do not verify against the first JWKS.
    const other = await createTicketSigner({
      issuer: 'titancompute',
      privateKeyPem: (await runAdminCommand(
        ['keys', 'generate-ticket-key', '--alg', alg],
        {},
      )) as string,
      alg,
    });
    const forged = await other.sign({
      sub: 'key_test',
      aud: 'gpu-1',
      jti: 'jti-2',
      model: MODEL,
      maxTokens: 16,
      issuedAtMs: now,
      expiresAtMs: now + 60_000,
      registration: now,
    });
    await expect(verifier.verify(forged)).rejects.toThrow();
  });

  it('defaults to ES256, which the control plane reads from the key, and refuses unknown algorithms', async () => {
    const pem = (await runAdminCommand(['keys', 'generate-ticket-key'], {})) as string;
    await expect(
      createTicketSigner({ issuer: 'titancompute', privateKeyPem: pem }),
    ).resolves.toMatchObject({ alg: 'ES256' });
    await expect(
      runAdminCommand(['keys', 'generate-ticket-key', '--alg', 'HS256'], {}),
    ).rejects.toThrow(UsageError);
  });

  it('prints a fresh high-entropy admin key each time', async () => {
    const a = (await runAdminCommand(['keys', 'generate-admin-key'], {})) as string;
    const b = (await runAdminCommand(['keys', 'generate-admin-key'], {})) as string;
    expect(a).toMatch(new RegExp(`^${ADMIN_KEY_PREFIX}[A-Za-z0-9_-]{43}$`));
    expect(a).not.toBe(b);
  });
});
