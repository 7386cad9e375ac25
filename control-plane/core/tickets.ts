// Signs tickets (JWTs, RS256 by default) with jose and publishes current + previous keys as a JWKS.
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  importJWK,
  importPKCS8,
  importSPKI,
  type JWK,
  SignJWT,
} from 'jose';
import { TICKET_TYPE } from '../../protocol/agent-api.ts';

export type TicketAlg = 'RS256' | 'ES256' | 'EdDSA';
export const TICKET_ALGS: readonly TicketAlg[] = ['RS256', 'ES256', 'EdDSA'];

export interface TicketInput {
  sub: string;
  aud: string;
  jti: string;
  model: string;
  /** Most completion tokens the agent may generate for this ticket. */
  maxTokens: number;
  issuedAtMs: number;
  expiresAtMs: number;
  /** Epoch of the agent's current registration (`reg`): the agent refuses earlier ones. */
  registration: number;
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

/** The public JWK (with kid = RFC 7638 thumbprint) of a PKCS#8 private or SPKI public PEM. */
export async function publishedJwk(pem: string, alg: TicketAlg): Promise<JWK> {
  const key = pem.includes('PRIVATE KEY')
    ? await importPKCS8(pem, alg, { extractable: true })
    : await importSPKI(pem, alg, { extractable: true });
  const publicJwk = publicPart(await exportJWK(key));
  const kid = await calculateJwkThumbprint(publicJwk);
  const published: JWK = { ...publicJwk, kid, alg, use: 'sig' };
  // Fail fast if the published key cannot be imported back.
  await importJWK(published, alg);
  return published;
}

/**
 * Builds a signer from a PKCS#8 PEM private key (the Node key file or a Worker secret). The
 * previous key (private or public PEM), when given, stays in the JWKS so tickets it signed
 * before a rotation still verify until they expire.
 */
export async function createTicketSigner(opts: {
  issuer: string;
  privateKeyPem: string;
  alg?: TicketAlg;
  previousKeyPem?: string | undefined;
  previousAlg?: TicketAlg | undefined;
}): Promise<TicketSigner> {
  const alg = opts.alg ?? 'RS256';
  for (const a of [alg, opts.previousAlg ?? alg]) {
    if (!TICKET_ALGS.includes(a))
      throw new Error(`TICKET_ALG must be one of ${TICKET_ALGS}, got '${a}'`);
  }
  const privateKey = await importPKCS8(opts.privateKeyPem, alg);
  const published = await publishedJwk(opts.privateKeyPem, alg);
  const kid = published.kid as string;
  const keys = [published];
  if (opts.previousKeyPem) {
    const previous = await publishedJwk(opts.previousKeyPem, opts.previousAlg ?? alg);
    if (previous.kid !== kid) keys.push(previous);
  }
  return {
    alg,
    kid,
    async sign(input) {
      const iat = Math.floor(input.issuedAtMs / 1000);
      return new SignJWT({
        model: input.model,
        max_tokens: input.maxTokens,
        reg: input.registration,
      })
        .setProtectedHeader({ alg, kid, typ: TICKET_TYPE })
        .setIssuer(opts.issuer)
        .setSubject(input.sub)
        .setAudience(input.aud)
        .setJti(input.jti)
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(Math.floor(input.expiresAtMs / 1000))
        .sign(privateKey);
    },
    jwks: () => ({ keys }),
  };
}

/** Generates a fresh private key as PKCS#8 PEM (used to create the Node key file). */
export async function generatePrivateKeyPem(alg: TicketAlg = 'RS256'): Promise<string> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  return exportPKCS8(privateKey as CryptoKey);
}
