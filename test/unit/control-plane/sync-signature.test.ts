// The Node control plane signs tickets with node:crypto, synchronously (ADR 0020): the same JWT as
// jose's (header and claims; byte for byte where the signature is deterministic), verified by the
// agent's own verifier for each algorithm.
import { createLocalJWKSet } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTicketVerifier } from '../../../agent/tickets.ts';
import {
  createTicketSigner,
  generatePrivateKeyPem,
  TICKET_ALGS,
} from '../../../control-plane/core/tickets.ts';
import { nodeSyncSignature } from '../../../control-plane/node/sync-signature.ts';

const now = Date.now();
const input = {
  sub: 'key_1',
  aud: 'agent-1',
  jti: 'jti-1',
  model: 'm',
  maxTokens: 8,
  issuedAtMs: now,
  expiresAtMs: now + 60_000,
  registration: 3,
};
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
    const [a, b] = [await viaJose.sign(input), await viaNode.sign(input)];
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
