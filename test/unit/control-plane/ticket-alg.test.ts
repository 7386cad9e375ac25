// The ticket algorithm is the key's own: ES256 for new keys, RS256 for the RSA keys of existing
// deployments, and a TICKET_ALG that pins another one is refused, naming both. The Node control
// plane signs with node:crypto, synchronously (ADR 0020): the same JWT as jose's.
import { createLocalJWKSet, exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTicketVerifier } from '../../../agent/tickets.ts';
import {
  createTicketSigner,
  DEFAULT_TICKET_ALG,
  generatePrivateKeyPem,
  keyAlgorithm,
  TICKET_ALGS,
  type TicketAlg,
} from '../../../control-plane/core/tickets.ts';
import { nodeSyncSignature } from '../../../control-plane/node/sync-signature.ts';

async function keyPair(alg: TicketAlg) {
  const pair = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  return {
    privatePem: await exportPKCS8(pair.privateKey),
    publicPem: await exportSPKI(pair.publicKey),
  };
}

const input = () => {
  const now = Date.now();
  return {
    sub: 'key_1',
    aud: 'agent-1',
    jti: 'jti-1',
    model: 'm',
    maxTokens: 8,
    issuedAtMs: now,
    expiresAtMs: now + 60_000,
    registration: 0,
  };
};

describe('ticket algorithm from the key', () => {
  it.each(TICKET_ALGS)('reads %s from a PKCS#8 private and an SPKI public PEM', async (alg) => {
    const { privatePem, publicPem } = await keyPair(alg);
    expect(await keyAlgorithm(privatePem)).toBe(alg);
    expect(await keyAlgorithm(publicPem)).toBe(alg);
  });

  it.each(TICKET_ALGS)(
    'signs with the %s of an unpinned key, and agents verify it',
    async (alg) => {
      const signer = await createTicketSigner({
        issuer: 'cp',
        privateKeyPem: await generatePrivateKeyPem(alg),
      });
      expect(signer.alg).toBe(alg);
      expect(signer.jwks().keys[0]).toMatchObject({ alg, kid: signer.kid });
      const ticket = await signer.sign(input());
      expect(
        JSON.parse(Buffer.from(ticket.split('.')[0] ?? '', 'base64url').toString()),
      ).toMatchObject({ alg });
      const verifier = createTicketVerifier({
        audience: 'agent-1',
        issuer: 'cp',
        keys: createLocalJWKSet(signer.jwks()),
        registeredAt: 0,
      });
      await expect(verifier.verify(ticket)).resolves.toMatchObject({ jti: 'jti-1' });
    },
  );

  it('makes new keys ES256', async () => {
    expect(DEFAULT_TICKET_ALG).toBe('ES256');
    expect(await keyAlgorithm(await generatePrivateKeyPem())).toBe('ES256');
  });

  it('refuses a TICKET_ALG the key is not for, naming both', async () => {
    const es256 = await generatePrivateKeyPem('ES256');
    await expect(
      createTicketSigner({ issuer: 'cp', privateKeyPem: es256, alg: 'RS256' }),
    ).rejects.toThrow('TICKET_ALG is RS256 but TICKET_PRIVATE_KEY is an ES256 (P-256) key');
    await expect(
      createTicketSigner({
        issuer: 'cp',
        privateKeyPem: await generatePrivateKeyPem('RS256'),
        alg: 'EdDSA',
        keySource: 'the key file /data/ticket-key.pem',
      }),
    ).rejects.toThrow(
      'TICKET_ALG is EdDSA but the key file /data/ticket-key.pem is an RS256 (RSA) key',
    );
    await expect(
      createTicketSigner({ issuer: 'cp', privateKeyPem: es256, alg: 'HS256' as TicketAlg }),
    ).rejects.toThrow("TICKET_ALG must be one of RS256,ES256,EdDSA, got 'HS256'");
  });

  it('reads the previous key on its own: an RSA key rotated to an ES256 one needs no setting', async () => {
    const old = await keyPair('RS256');
    const signer = await createTicketSigner({
      issuer: 'cp',
      privateKeyPem: await generatePrivateKeyPem(),
      previousKeyPem: old.publicPem,
    });
    expect(signer.jwks().keys.map((k) => k.alg)).toEqual(['ES256', 'RS256']);
    await expect(
      createTicketSigner({
        issuer: 'cp',
        privateKeyPem: await generatePrivateKeyPem(),
        previousKeyPem: old.privatePem,
        previousAlg: 'ES256',
      }),
    ).rejects.toThrow('TICKET_PREVIOUS_ALG is ES256 but TICKET_PREVIOUS_KEY is an RS256 (RSA) key');
  });

  it('refuses a key of no ticket algorithm (P-384, garbage), or a public key to sign with', async () => {
    const p384 = await generateKeyPair('ES384', { extractable: true });
    await expect(
      createTicketSigner({ issuer: 'cp', privateKeyPem: await exportPKCS8(p384.privateKey) }),
    ).rejects.toThrow(
      /TICKET_PRIVATE_KEY is not a PKCS#8 or SPKI PEM key of a ticket algorithm: RS256 \(RSA\), ES256 \(P-256\), EdDSA \(Ed25519\)/,
    );
    await expect(
      createTicketSigner({ issuer: 'cp', privateKeyPem: (await keyPair('ES256')).publicPem }),
    ).rejects.toThrow('TICKET_PRIVATE_KEY must be a PKCS#8 PEM private key');
    await expect(
      keyAlgorithm('-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----'),
    ).rejects.toThrow(/the ticket key is not a PKCS#8/);
  });
});

const part = (jwt: string, i: number) =>
  JSON.parse(Buffer.from(jwt.split('.')[i] ?? '', 'base64url').toString()) as unknown;

describe('synchronous node:crypto ticket signatures', () => {
  it.each(TICKET_ALGS)('%s: the JWT jose writes, and the agent verifies it', async (alg) => {
    const privateKeyPem = await generatePrivateKeyPem(alg);
    const viaJose = await createTicketSigner({ issuer: 'cp', privateKeyPem });
    const viaNode = await createTicketSigner({
      issuer: 'cp',
      privateKeyPem,
      syncSignature: nodeSyncSignature,
    });
    const claims = { ...input(), registration: 3 };
    const [a, b] = [await viaJose.sign(claims), await viaNode.sign(claims)];
    expect(part(b, 0)).toEqual(part(a, 0));
    expect(part(b, 1)).toEqual(part(a, 1));
    // ES256 signatures are randomised; RS256 (PKCS#1 v1.5) and Ed25519 are not.
    if (alg !== 'ES256') expect(b).toBe(a);
    const verifier = createTicketVerifier({
      audience: 'agent-1',
      issuer: 'cp',
      keys: createLocalJWKSet(viaNode.jwks()),
      registeredAt: 3,
    });
    await expect(verifier.verify(b)).resolves.toMatchObject({
      jti: 'jti-1',
      max_tokens: 8,
      reg: 3,
    });
    // A signature that is not the key's is refused.
    const forged = `${b.split('.').slice(0, 2).join('.')}.${a.split('.')[2]?.split('').reverse().join('')}`;
    await expect(verifier.verify(forged)).rejects.toThrow();
  });
});
