// Signs tickets (JWTs, RS256 by default) with jose and publishes the public keys as a JWKS.
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  importJWK,
  importPKCS8,
  type JWK,
  SignJWT,
} from 'jose';

export type TicketAlg = 'RS256' | 'ES256' | 'EdDSA';

export interface TicketInput {
  sub: string;
  aud: string;
  jti: string;
  model: string;
  issuedAtMs: number;
  expiresAtMs: number;
}

export interface TicketSigner {
  readonly alg: TicketAlg;
  readonly kid: string;
  sign(input: TicketInput): Promise<string>;
  jwks(): { keys: JWK[] };
}

const PRIVATE_JWK_FIELDS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

function publicPart(jwk: JWK): JWK {
  const pub: JWK = { ...jwk };
  for (const f of PRIVATE_JWK_FIELDS) delete pub[f];
  delete pub.key_ops;
  delete pub.ext;
  return pub;
}

/** Builds a signer from a PKCS#8 PEM private key (the Node key file or a Worker secret). */
export async function createTicketSigner(opts: {
  issuer: string;
  privateKeyPem: string;
  alg?: TicketAlg;
}): Promise<TicketSigner> {
  const alg = opts.alg ?? 'RS256';
  const privateKey = await importPKCS8(opts.privateKeyPem, alg, { extractable: true });
  const publicJwk = publicPart(await exportJWK(privateKey));
  const kid = await calculateJwkThumbprint(publicJwk);
  const published: JWK = { ...publicJwk, kid, alg, use: 'sig' };
  // Fail fast if the published key cannot be imported back.
  await importJWK(published, alg);
  return {
    alg,
    kid,
    async sign(input) {
      return new SignJWT({ model: input.model })
        .setProtectedHeader({ alg, kid, typ: 'JWT' })
        .setIssuer(opts.issuer)
        .setSubject(input.sub)
        .setAudience(input.aud)
        .setJti(input.jti)
        .setIssuedAt(Math.floor(input.issuedAtMs / 1000))
        .setExpirationTime(Math.floor(input.expiresAtMs / 1000))
        .sign(privateKey);
    },
    jwks: () => ({ keys: [published] }),
  };
}

/** Generates a fresh private key as PKCS#8 PEM (used to create the Node key file). */
export async function generatePrivateKeyPem(alg: TicketAlg = 'RS256'): Promise<string> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  return exportPKCS8(privateKey as CryptoKey);
}
