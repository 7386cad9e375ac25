// Key rotation: the JWKS keeps the previous key, so tickets signed before the switch still verify
// on agents, which fetch the JWKS again when a new kid appears.
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTicketVerifier, remoteKeySource } from '../../../agent/tickets.ts';
import { createTicketSigner, generatePrivateKeyPem } from '../../../control-plane/core/tickets.ts';
import { startControlPlane } from '../../../control-plane/node/main.ts';

const ticketInput = (jti: string) => {
  const now = Date.now();
  return {
    sub: 'key_1',
    aud: 'agent-1',
    jti,
    model: 'm',
    maxTokens: 8,
    issuedAtMs: now,
    expiresAtMs: now + 60_000,
    registration: 0,
  };
};

describe('ticket key rotation', () => {
  it('an in-flight ticket signed by the old key verifies after the switch, and so does a new one', async () => {
    // From an RSA key to a new ES256 one: each key's algorithm is read from the key.
    const oldPem = await generatePrivateKeyPem('RS256');
    const before = await createTicketSigner({ issuer: 'cp', privateKeyPem: oldPem });
    const after = await createTicketSigner({
      issuer: 'cp',
      privateKeyPem: await generatePrivateKeyPem('ES256'),
      previousKeyPem: oldPem,
    });
    expect(after.jwks().keys.map((k) => k.kid)).toEqual([after.kid, before.kid]);

    let published = before.jwks();
    let fetches = 0;
    const fakeFetch = (async () => {
      fetches++;
      return new Response(JSON.stringify(published), {
        headers: { 'content-type': 'application/json' },
      });
    }) as unknown as typeof fetch;
    const verifier = createTicketVerifier({
      audience: 'agent-1',
      issuer: 'cp',
      keys: remoteKeySource('http://cp/.well-known/jwks.json', { fetch: fakeFetch }),
      registeredAt: 0,
    });
    const inFlight = await before.sign(ticketInput('old'));
    await verifier.verify(inFlight);
    expect(fetches).toBe(1);

    published = after.jwks(); // the control plane restarts with the new key
    await expect(verifier.verify(await after.sign(ticketInput('new')))).resolves.toMatchObject({
      jti: 'new',
    });
    expect(fetches).toBe(2); // the unknown kid made the agent refetch
    await expect(verifier.verify(inFlight)).resolves.toMatchObject({ jti: 'old' });

    // Junk kids cannot turn the agent into a JWKS fetch loop.
    const junk = await createTicketSigner({
      issuer: 'cp',
      privateKeyPem: await generatePrivateKeyPem('ES256'),
      alg: 'ES256',
    });
    const seen = fetches;
    for (let i = 0; i < 5; i++) {
      await expect(verifier.verify(await junk.sign(ticketInput(`junk-${i}`)))).rejects.toThrow(
        /unknown key/,
      );
    }
    expect(fetches - seen).toBeLessThanOrEqual(2);
  });

  it('the Node control plane publishes ticket-key.previous.pem next to the new key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'titan-rot-'));
    const env = { PORT: '0', DATA_DIR: dir, AUTH_MODE: 'development', JOIN_TOKEN: 'j' };
    try {
      const first = await startControlPlane(env);
      const oldKeys = (await (await fetch(`${first.url}/.well-known/jwks.json`)).json()) as {
        keys: { kid: string }[];
      };
      await first.close();
      await rename(join(dir, 'ticket-key.pem'), join(dir, 'ticket-key.previous.pem'));
      const second = await startControlPlane(env);
      const keys = (await (await fetch(`${second.url}/.well-known/jwks.json`)).json()) as {
        keys: { kid: string }[];
      };
      await second.close();
      expect(keys.keys).toHaveLength(2);
      expect(keys.keys[1]?.kid).toBe(oldKeys.keys[0]?.kid);
      expect(keys.keys[0]?.kid).not.toBe(oldKeys.keys[0]?.kid);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
