// The Node key file: created once with 0600, reused on restart so tickets stay valid.
import { chmod, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { weakSecrets } from '../../../control-plane/core/config.ts';
import {
  createTicketSigner,
  generatePrivateKeyPem,
  keyAlgorithm,
} from '../../../control-plane/core/tickets.ts';
import { loadOrCreatePrivateKey } from '../../../control-plane/node/keys.ts';
import { startControlPlane } from '../../../control-plane/node/main.ts';
import { openSqlite } from '../../../control-plane/node/sqlite.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('creates the key file with 0600 and returns the same key next time', async () => {
  dir = await mkdtemp(join(tmpdir(), 'titan-keys-'));
  const keyFile = join(dir, 'nested', 'ticket-key.pem');
  const first = await loadOrCreatePrivateKey({ envPem: undefined, keyFile, alg: 'RS256' });
  expect(first.source).toContain('created');
  expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
  const again = await loadOrCreatePrivateKey({ envPem: undefined, keyFile, alg: 'RS256' });
  expect(again.pem).toBe(first.pem);
  const a = await createTicketSigner({ issuer: 'x', privateKeyPem: first.pem });
  const b = await createTicketSigner({ issuer: 'x', privateKeyPem: again.pem });
  expect(b.kid).toBe(a.kid);
});

it('creates an ES256 key file when TICKET_ALG is unset, and one of TICKET_ALG when set', async () => {
  dir = await mkdtemp(join(tmpdir(), 'titan-keys-'));
  const made = await loadOrCreatePrivateKey({ envPem: undefined, keyFile: join(dir, 'a.pem') });
  expect(await keyAlgorithm(made.pem)).toBe('ES256');
  const pinned = await loadOrCreatePrivateKey({
    envPem: undefined,
    keyFile: join(dir, 'b.pem'),
    alg: 'EdDSA',
  });
  expect(await keyAlgorithm(pinned.pem)).toBe('EdDSA');
});

describe('the Node control plane and its key file', () => {
  const env = (dataDir: string, more: Record<string, string> = {}) => ({
    PORT: '0',
    DATA_DIR: dataDir,
    AUTH_MODE: 'development',
    JOIN_TOKEN: 'j',
    ...more,
  });
  const jwksAlgs = async (url: string) => {
    const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as {
      keys: { alg: string }[];
    };
    return jwks.keys.map((k) => k.alg);
  };

  it('creates an ES256 key file on first start without TICKET_ALG', async () => {
    dir = await mkdtemp(join(tmpdir(), 'titan-keys-'));
    const cp = await startControlPlane(env(dir));
    try {
      expect(await jwksAlgs(cp.url)).toEqual(['ES256']);
    } finally {
      await cp.close();
    }
    expect(await keyAlgorithm(await readFile(join(dir, 'ticket-key.pem'), 'utf8'))).toBe('ES256');
  });

  it('keeps signing RS256 with an existing RSA key file, refuses a TICKET_ALG it does not match, and rotates to ES256', async () => {
    dir = await mkdtemp(join(tmpdir(), 'titan-keys-'));
    const keyFile = join(dir, 'ticket-key.pem');
    await writeFile(keyFile, await generatePrivateKeyPem('RS256'), { mode: 0o600 });
    const cp = await startControlPlane(env(dir));
    try {
      expect(await jwksAlgs(cp.url)).toEqual(['RS256']);
    } finally {
      await cp.close();
    }
    await expect(startControlPlane(env(dir, { TICKET_ALG: 'ES256' }))).rejects.toThrow(
      `TICKET_ALG is ES256 but the key file ${keyFile} is an RS256 (RSA) key`,
    );
    // Rotated to a new key: the new file is ES256, the RSA one stays published beside it.
    await rename(keyFile, join(dir, 'ticket-key.previous.pem'));
    const rotated = await startControlPlane(env(dir));
    try {
      expect(await jwksAlgs(rotated.url)).toEqual(['ES256', 'RS256']);
    } finally {
      await rotated.close();
    }
  });
});

it('tightens a key file left readable by others', async () => {
  dir = await mkdtemp(join(tmpdir(), 'titan-keys-'));
  const keyFile = join(dir, 'ticket-key.pem');
  await loadOrCreatePrivateKey({ envPem: undefined, keyFile, alg: 'RS256' });
  await chmod(keyFile, 0o644);
  await loadOrCreatePrivateKey({ envPem: undefined, keyFile, alg: 'RS256' });
  expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
});

it('prefers TICKET_PRIVATE_KEY from the environment, with escaped newlines', async () => {
  dir = await mkdtemp(join(tmpdir(), 'titan-keys-'));
  const made = await loadOrCreatePrivateKey({
    envPem: undefined,
    keyFile: join(dir, 'k.pem'),
    alg: 'ES256',
  });
  const escaped = made.pem.replace(/\n/g, '\\n');
  const fromEnv = await loadOrCreatePrivateKey({
    envPem: escaped,
    keyFile: join(dir, 'unused.pem'),
    alg: 'ES256',
  });
  expect(fromEnv.source).toBe('TICKET_PRIVATE_KEY');
  expect(fromEnv.pem).toBe(made.pem);
});

it('creates the data folder 0700 and the database 0600', async () => {
  dir = await mkdtemp(join(tmpdir(), 'titan-db-'));
  const path = join(dir, 'data', 'control-plane.db');
  openSqlite(path).sqlite.close();
  expect((await stat(join(dir, 'data'))).mode & 0o777).toBe(0o700);
  expect((await stat(path)).mode & 0o777).toBe(0o600);
});

it('names short admin keys and join tokens for a start-up warning', () => {
  expect(weakSecrets({ adminKey: 'admin', joinToken: undefined })).toEqual(['ADMIN_KEY']);
  expect(weakSecrets({ adminKey: 'x'.repeat(43), joinToken: 'join' })).toEqual(['JOIN_TOKEN']);
  expect(weakSecrets({ adminKey: undefined, joinToken: 'y'.repeat(24) })).toEqual([]);
});
