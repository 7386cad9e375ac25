// The Node key file: created once with 0600, reused on restart so tickets stay valid.
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { weakSecrets } from '../../../control-plane/core/config.ts';
import { createTicketSigner } from '../../../control-plane/core/tickets.ts';
import { loadOrCreatePrivateKey } from '../../../control-plane/node/keys.ts';
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
