// Signs tickets (JWTs; the algorithm is the key's own, ES256 for new keys) with jose and publishes
// current + previous keys as a JWKS.
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
/**
 * The algorithm of new keys (key file, `keys generate-ticket-key`, development keys). The control
 * plane signs every ticket of the fleet, and ES256 signs 4–6× faster than RS256 on the same CPU
 * (docs/benchmarks.md, Tickets). Existing keys keep their own algorithm (keyAlgorithm).
 */
export const DEFAULT_TICKET_ALG: TicketAlg = 'ES256';

/** Each algorithm's key, as messages name it. */
const KEY_KIND: Record<TicketAlg, string> = {
  RS256: 'RS256 (RSA)',
  ES256: 'ES256 (P-256)',
  EdDSA: 'EdDSA (Ed25519)',
};

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

function importPem(pem: string, alg: TicketAlg, extractable = false): Promise<CryptoKey> {
  return pem.includes('PRIVATE KEY')
    ? importPKCS8(pem, alg, { extractable })
    : importSPKI(pem, alg, { extractable });
}

/**
 * The algorithm a PKCS#8 private or SPKI public PEM key is for: the one jose imports it under
 * (WebCrypto checks the key type and curve, on Node and on Workers alike).
 */
export async function keyAlgorithm(pem: string, name = 'the ticket key'): Promise<TicketAlg> {
  for (const alg of TICKET_ALGS) {
    try {
      await importPem(pem, alg);
      return alg;
    } catch {
      // Not this kind: try the next.
    }
  }
  throw new Error(
    `${name} is not a PKCS#8 or SPKI PEM key of a ticket algorithm: ` +
      `${TICKET_ALGS.map((a) => KEY_KIND[a]).join(', ')}`,
  );
}

/**
 * The algorithm to use with a key: the configured one (`setting`, e.g. TICKET_ALG), which must
 * match the key, else the key's own.
 */
async function algorithmFor(opts: {
  pem: string;
  alg: TicketAlg | undefined;
  /** The key's source for messages, e.g. TICKET_PRIVATE_KEY or a key file. */
  name: string;
  /** The variable that configures the algorithm, for messages. */
  setting: string;
}): Promise<TicketAlg> {
  if (opts.alg !== undefined && !TICKET_ALGS.includes(opts.alg)) {
    throw new Error(`${opts.setting} must be one of ${TICKET_ALGS}, got '${opts.alg}'`);
  }
  const own = await keyAlgorithm(opts.pem, opts.name);
  if (opts.alg !== undefined && opts.alg !== own) {
    throw new Error(
      `${opts.setting} is ${opts.alg} but ${opts.name} is an ${KEY_KIND[own]} key: ` +
        `unset ${opts.setting} to use the key's own algorithm, or give an ${KEY_KIND[opts.alg]} key`,
    );
  }
  return own;
}

/** The public JWK (with kid = RFC 7638 thumbprint) of a PKCS#8 private or SPKI public PEM. */
export async function publishedJwk(pem: string, alg: TicketAlg): Promise<JWK> {
  const key = await importPem(pem, alg, true);
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
 * before a rotation still verify until they expire. Each key's algorithm is its own unless
 * `alg` / `previousAlg` (TICKET_ALG / TICKET_PREVIOUS_ALG) pin it, and a pin the key does not
 * match is refused.
 */
export async function createTicketSigner(opts: {
  issuer: string;
  privateKeyPem: string;
  /**
   * Signs with the runtime's own synchronous primitive instead of jose's WebCrypto (Node:
   * control-plane/node/sync-signature.ts, ADR 0020). Absent: jose.
   */
  syncSignature?: SyncSignatureFactory | undefined;
  alg?: TicketAlg | undefined;
  /** Where the private key came from, for messages (default TICKET_PRIVATE_KEY). */
  keySource?: string | undefined;
  previousKeyPem?: string | undefined;
  previousAlg?: TicketAlg | undefined;
  /** Where the previous key came from, for messages (default TICKET_PREVIOUS_KEY). */
  previousKeySource?: string | undefined;
}): Promise<TicketSigner> {
  const keySource = opts.keySource ?? 'TICKET_PRIVATE_KEY';
  if (!opts.privateKeyPem.includes('PRIVATE KEY')) {
    throw new Error(`${keySource} must be a PKCS#8 PEM private key (BEGIN PRIVATE KEY)`);
  }
  const alg = await algorithmFor({
    pem: opts.privateKeyPem,
    alg: opts.alg,
    name: keySource,
    setting: 'TICKET_ALG',
  });
  const privateKey = await importPKCS8(opts.privateKeyPem, alg);
  const published = await publishedJwk(opts.privateKeyPem, alg);
  const kid = published.kid as string;
  const keys = [published];
  if (opts.previousKeyPem) {
    const previousAlg = await algorithmFor({
      pem: opts.previousKeyPem,
      alg: opts.previousAlg,
      name: opts.previousKeySource ?? 'TICKET_PREVIOUS_KEY',
      setting: 'TICKET_PREVIOUS_ALG',
    });
    const previous = await publishedJwk(opts.previousKeyPem, previousAlg);
    if (previous.kid !== kid) keys.push(previous);
  }
  if (opts.syncSignature) {
    const signBytes = opts.syncSignature(opts.privateKeyPem, alg);
    const header = base64url(JSON.stringify({ alg, kid, typ: TICKET_TYPE }));
    return {
      alg,
      kid,
      async sign(input) {
        const signingInput = `${header}.${base64url(JSON.stringify(ticketClaims(opts.issuer, input)))}`;
        return `${signingInput}.${base64url(signBytes(TEXT.encode(signingInput)))}`;
      },
      jwks: () => ({ keys }),
    };
  }
  return {
    alg,
    kid,
    sign: (input) =>
      new SignJWT(ticketClaims(opts.issuer, input))
        .setProtectedHeader({ alg, kid, typ: TICKET_TYPE })
        .sign(privateKey),
    jwks: () => ({ keys }),
  };
}

/**
 * A synchronous raw JWS signature (RFC 7515: ES256 as R || S, RS256 PKCS#1 v1.5, EdDSA Ed25519)
 * over the signing input, for a PKCS#8 PEM key and its algorithm.
 */
export type SyncSignatureFactory = (
  privateKeyPem: string,
  alg: TicketAlg,
) => (signingInput: Uint8Array) => Uint8Array;

const TEXT = new TextEncoder();

function base64url(data: string | Uint8Array): string {
  const bytes = typeof data === 'string' ? TEXT.encode(data) : data;
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A ticket's claims in the order jose's SignJWT writes them (the same JWT either way). */
export function ticketClaims(issuer: string, input: TicketInput) {
  const iat = Math.floor(input.issuedAtMs / 1000);
  return {
    model: input.model,
    max_tokens: input.maxTokens,
    reg: input.registration,
    iss: issuer,
    sub: input.sub,
    aud: input.aud,
    jti: input.jti,
    iat,
    nbf: iat,
    exp: Math.floor(input.expiresAtMs / 1000),
  };
}

/** Generates a fresh private key as PKCS#8 PEM (the Node key file, `keys generate-ticket-key`). */
export async function generatePrivateKeyPem(alg: TicketAlg = DEFAULT_TICKET_ALG): Promise<string> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  return exportPKCS8(privateKey as CryptoKey);
}
