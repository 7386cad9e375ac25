// Ticket verification: control-plane-signed JWTs bound to this agent, checked against its JWKS.
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { TICKET_TYPE, type TicketClaims } from '../protocol/agent-api.ts';

export type TicketErrorCode =
  | 'ticket_missing'
  | 'ticket_invalid'
  | 'ticket_expired'
  | 'ticket_wrong_audience'
  | 'ticket_wrong_issuer'
  | 'ticket_unknown_key'
  | 'ticket_replayed'
  | 'ticket_model_mismatch'
  | 'ticket_wrong_type'
  | 'ticket_not_yet_valid'
  | 'ticket_max_tokens_exceeded'
  | 'ticket_before_registration'
  | 'verifier_not_ready'
  | 'keys_unavailable';

export class TicketError extends Error {
  readonly code: TicketErrorCode;

  constructor(code: TicketErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TicketError';
    this.code = code;
  }
}

/** Where verification keys come from: jose's remote or local JWKS resolvers both fit. */
export type KeySource = JWTVerifyGetKey;

export interface TicketTrust {
  /** This agent's id: tickets must carry it as `aud`. */
  audience: string;
  issuer: string;
  keys: KeySource;
  /**
   * Epoch of this agent's current registration (`registeredAt` of the register answer, the
   * control plane's clock). Tickets of an earlier registration are refused: the replay memory is
   * per process, so a restart would otherwise accept every ticket it had already served.
   */
  registeredAt: number;
}

export interface TicketVerifier {
  verify(token: string): Promise<TicketClaims>;
}

export interface VerifyOptions {
  /** Seconds of clock skew tolerated on exp/iat/nbf; capped at 30. */
  clockToleranceSec?: number;
  now?: () => number;
}

/** Pinned: the token's own `alg` only selects among these; `none` and HS* never verify. */
export const TICKET_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];
/** Upper bound of a ticket's max_tokens claim; anything above is malformed. */
const MAX_TICKET_TOKENS = 1_000_000;
export const MAX_CLOCK_TOLERANCE_SEC = 30;
const MAX_JTI_LENGTH = 100;

export function createTicketVerifier(
  trust: TicketTrust,
  options: VerifyOptions = {},
): TicketVerifier {
  const tolerance = Math.min(options.clockToleranceSec ?? 30, MAX_CLOCK_TOLERANCE_SEC);
  const now = options.now ?? Date.now;
  return {
    async verify(token) {
      if (!token) throw new TicketError('ticket_missing', 'a ticket is required');
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, trust.keys, {
          algorithms: TICKET_ALGORITHMS,
          // Keys come only from the control plane's JWKS (by kid): header-supplied keys
          // (jku, jwk, x5u, x5c) are never looked at.
          typ: TICKET_TYPE,
          audience: trust.audience,
          issuer: trust.issuer,
          clockTolerance: tolerance,
          currentDate: new Date(now()),
          requiredClaims: ['exp', 'nbf', 'iat', 'jti', 'sub'],
        }));
      } catch (err) {
        throw mapJoseError(err);
      }
      const { jti, model, sub, exp, iat, nbf, max_tokens, reg, aud } = payload;
      // Exactly one audience: jose accepts an array that contains ours, the protocol does not.
      if (aud !== trust.audience) {
        throw new TicketError('ticket_wrong_audience', 'a ticket names exactly one agent as aud');
      }
      if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
        throw new TicketError('ticket_invalid', 'ticket jti is missing or malformed');
      }
      if (typeof model !== 'string' || model.length === 0) {
        throw new TicketError('ticket_invalid', 'ticket carries no model');
      }
      if (
        typeof max_tokens !== 'number' ||
        !Number.isSafeInteger(max_tokens) ||
        max_tokens < 1 ||
        max_tokens > MAX_TICKET_TOKENS
      ) {
        throw new TicketError('ticket_invalid', 'ticket carries no valid max_tokens');
      }
      if (
        typeof sub !== 'string' ||
        typeof exp !== 'number' ||
        typeof iat !== 'number' ||
        typeof nbf !== 'number'
      ) {
        throw new TicketError('ticket_invalid', 'ticket claims are malformed');
      }
      // Same clock on both sides (the control plane's): exact, no skew to allow for.
      if (typeof reg !== 'number' || !Number.isSafeInteger(reg) || reg < trust.registeredAt) {
        throw new TicketError(
          'ticket_before_registration',
          "ticket was issued before this agent's current registration; ask for a new one",
        );
      }
      return {
        iss: trust.issuer,
        sub,
        aud: trust.audience,
        exp,
        nbf,
        iat,
        jti,
        model,
        max_tokens,
        reg,
      };
    },
  };
}

function mapJoseError(err: unknown): TicketError {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new TicketError('ticket_expired', 'ticket expired', { cause: err });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (err as { claim?: unknown }).claim;
      if (claim === 'aud') {
        return new TicketError('ticket_wrong_audience', 'ticket is for another agent', {
          cause: err,
        });
      }
      if (claim === 'typ') {
        return new TicketError('ticket_wrong_type', `ticket type must be ${TICKET_TYPE}`, {
          cause: err,
        });
      }
      if (claim === 'nbf' && (err as { reason?: unknown }).reason === 'check_failed') {
        return new TicketError('ticket_not_yet_valid', 'ticket is not valid yet (nbf)', {
          cause: err,
        });
      }
      if (claim === 'iss') {
        return new TicketError('ticket_wrong_issuer', 'ticket issuer is not trusted', {
          cause: err,
        });
      }
      return new TicketError('ticket_invalid', `ticket rejected: ${message}`, { cause: err });
    }
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return new TicketError('ticket_unknown_key', 'ticket signed by an unknown key', {
        cause: err,
      });
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JOSE_GENERIC':
    case 'ERR_JWKS_INVALID':
      return new TicketError('keys_unavailable', `cannot load verification keys: ${message}`, {
        cause: err,
      });
    default:
      if (err instanceof TypeError) {
        return new TicketError('keys_unavailable', `cannot load verification keys: ${message}`, {
          cause: err,
        });
      }
      return new TicketError('ticket_invalid', 'ticket signature or format is invalid', {
        cause: err,
      });
  }
}

/**
 * The control plane's JWKS over HTTP: cached, refetched when an unknown `kid` shows up. jose
 * refetches at most once per cooldown; right after a fetch (say, moments before a key rotation)
 * that would refuse the first tickets of the new key, so an unknown kid may force one more
 * refetch per cooldown window. Junk kids still cost at most two fetches per window.
 */
export function remoteKeySource(
  jwksUrl: string,
  options: {
    fetch?: typeof fetch;
    timeoutMs?: number;
    cooldownMs?: number;
    now?: () => number;
  } = {},
): KeySource {
  const fetchImpl = options.fetch;
  const cooldownMs = options.cooldownMs ?? 5000;
  const now = options.now ?? Date.now;
  const set = createRemoteJWKSet(new URL(jwksUrl), {
    timeoutDuration: options.timeoutMs ?? 5000,
    // An unknown kid triggers a refetch at most this often (bounds JWKS traffic from junk kids).
    cooldownDuration: cooldownMs,
    cacheMaxAge: 10 * 60_000,
    ...(fetchImpl
      ? {
          [customFetch]: (url: string, init: RequestInit) => fetchImpl(url, init),
        }
      : {}),
  });
  let lastForced = Number.NEGATIVE_INFINITY;
  return async (header, token) => {
    try {
      return await set(header, token);
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (code !== 'ERR_JWKS_NO_MATCHING_KEY' || !set.coolingDown) throw err;
      if (now() - lastForced < cooldownMs) throw err;
      lastForced = now();
      await set.reload();
      return set(header, token);
    }
  };
}

/** A verifier whose trust arrives later (from the register response); refuses until then. */
export class DeferredTicketVerifier implements TicketVerifier {
  private inner: TicketVerifier | undefined;
  private keys: KeySource | undefined;
  private trustKey = '';

  constructor(private readonly options: VerifyOptions = {}) {}

  get ready(): boolean {
    return this.inner !== undefined;
  }

  /**
   * Installs new trust (every registration: its epoch changes); keeps the current key cache when
   * audience, issuer and key source (`cacheKey`) are unchanged.
   */
  setTrust(trust: TicketTrust, cacheKey = `${trust.audience}|${trust.issuer}`): void {
    if (!this.keys || cacheKey !== this.trustKey) this.keys = trust.keys;
    this.inner = createTicketVerifier({ ...trust, keys: this.keys }, this.options);
    this.trustKey = cacheKey;
  }

  verify(token: string): Promise<TicketClaims> {
    if (!this.inner) {
      return Promise.reject(
        new TicketError('verifier_not_ready', 'agent has not registered with the control plane'),
      );
    }
    return this.inner.verify(token);
  }
}

/** Remembers accepted jti values until their ticket expires: each ticket is used once. */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  private lastPrune = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** True the first time `jti` is seen; `expSec` is the ticket's exp (seconds). */
  consume(jti: string, expSec: number): boolean {
    const nowMs = this.now();
    if (nowMs - this.lastPrune > 10_000) this.prune(nowMs);
    if (this.seen.has(jti)) return false;
    this.seen.set(jti, (expSec + MAX_CLOCK_TOLERANCE_SEC) * 1000);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }

  private prune(nowMs: number): void {
    this.lastPrune = nowMs;
    for (const [jti, until] of this.seen) if (until < nowMs) this.seen.delete(jti);
  }
}
