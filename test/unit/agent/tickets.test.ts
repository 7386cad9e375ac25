// Ticket verifier: claims, pinned algorithms, clock tolerance, remote JWKS rotation, replay guard.
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  createTicketVerifier,
  DeferredTicketVerifier,
  ReplayGuard,
  remoteKeySource,
  TicketError,
} from '../../../agent/tickets.ts';
import { TICKET_TYPE } from '../../../protocol/agent-api.ts';
import { AGENT_ID, ISSUER, localKeys, MODEL, makeSigningKey, signTicket } from './helpers.ts';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(TicketError);
    return (err as TicketError).code;
  }
}

describe('createTicketVerifier', () => {
  it('returns typed claims for a valid RS256 ticket', async () => {
    const key = await makeSigningKey();
    const verifier = createTicketVerifier({
      audience: AGENT_ID,
      issuer: ISSUER,
      keys: localKeys(key),
      registeredAt: 0,
    });
    const claims = await verifier.verify(await signTicket(key, { jti: 'abc', sub: 'key-7' }));
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: AGENT_ID,
      sub: 'key-7',
      jti: 'abc',
      model: MODEL,
    });
    expect(claims.exp).toBeGreaterThan(claims.iat);
  });

  it('accepts ES256 and EdDSA keys too', async () => {
    for (const alg of ['ES256', 'EdDSA']) {
      const key = await makeSigningKey(`k-${alg}`, alg);
      const verifier = createTicketVerifier({
        audience: AGENT_ID,
        issuer: ISSUER,
        keys: localKeys(key),
        registeredAt: 0,
      });
      expect((await verifier.verify(await signTicket(key, { alg }))).model).toBe(MODEL);
    }
  });

  it('rejects a missing model or jti, and unsigned or HMAC tokens', async () => {
    const key = await makeSigningKey();
    const verifier = createTicketVerifier({
      audience: AGENT_ID,
      issuer: ISSUER,
      keys: localKeys(key),
      registeredAt: 0,
    });
    expect(await codeOf(verifier.verify(await signTicket(key, { model: null })))).toBe(
      'ticket_invalid',
    );
    expect(await codeOf(verifier.verify(await signTicket(key, { jti: null })))).toBe(
      'ticket_invalid',
    );
    expect(await codeOf(verifier.verify(''))).toBe('ticket_missing');
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({
        aud: AGENT_ID,
        iss: ISSUER,
        model: MODEL,
        jti: 'x',
        sub: 's',
        exp: 9e9,
        iat: 1,
      }),
    ).toString('base64url')}.`;
    expect(await codeOf(verifier.verify(unsigned))).toBe('ticket_invalid');
    const hmac = await new SignJWT({ model: MODEL })
      .setProtectedHeader({ alg: 'HS256', kid: key.kid })
      .setAudience(AGENT_ID)
      .setIssuer(ISSUER)
      .setJti('h')
      .setSubject('s')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!'));
    expect(await codeOf(verifier.verify(hmac))).toBe('ticket_invalid');
  });

  it('tolerates at most 30 s of clock skew', async () => {
    const key = await makeSigningKey();
    const ticket = await signTicket(key, { expIn: 60 });
    const at = (offsetSec: number) =>
      createTicketVerifier(
        { audience: AGENT_ID, issuer: ISSUER, keys: localKeys(key), registeredAt: 0 },
        { clockToleranceSec: 300, now: () => Date.now() + offsetSec * 1000 },
      ).verify(ticket);
    expect(await codeOf(at(80))).toBe('ok');
    expect(await codeOf(at(95))).toBe('ticket_expired');
  });
});

describe('remoteKeySource', () => {
  it('fetches the JWKS through the injected fetch, caches it, and refetches on an unknown kid', async () => {
    const first = await makeSigningKey('k-old');
    const second = await makeSigningKey('k-new');
    let published = [first.publicJwk];
    const fetched: string[] = [];
    const fetchImpl = (async (url: string | URL | Request) => {
      fetched.push(String(url));
      return new Response(JSON.stringify({ keys: published }), {
        headers: { 'content-type': 'application/json' },
      });
    }) as typeof fetch;
    const keys = remoteKeySource('http://cp.test/.well-known/jwks.json', {
      fetch: fetchImpl,
      cooldownMs: 0,
    });
    const verifier = createTicketVerifier({
      audience: AGENT_ID,
      issuer: ISSUER,
      keys,
      registeredAt: 0,
    });
    await verifier.verify(await signTicket(first));
    await verifier.verify(await signTicket(first));
    expect(fetched).toEqual(['http://cp.test/.well-known/jwks.json']);
    published = [first.publicJwk, second.publicJwk];
    await verifier.verify(await signTicket(second));
    expect(fetched).toHaveLength(2);
  });

  it('maps an unreachable JWKS to keys_unavailable', async () => {
    const key = await makeSigningKey();
    const fetchImpl = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    const keys = remoteKeySource('http://cp.test/jwks', { fetch: fetchImpl });
    const verifier = createTicketVerifier({
      audience: AGENT_ID,
      issuer: ISSUER,
      keys,
      registeredAt: 0,
    });
    expect(await codeOf(verifier.verify(await signTicket(key)))).toBe('keys_unavailable');
  });
});

describe('exactly one audience', () => {
  it('refuses an aud array, even one that names this agent', async () => {
    const key = await makeSigningKey();
    const verifier = createTicketVerifier({
      audience: AGENT_ID,
      issuer: ISSUER,
      keys: localKeys(key),
      registeredAt: 0,
    });
    const now = Math.floor(Date.now() / 1000);
    const ticket = await new SignJWT({ model: MODEL, max_tokens: 16, reg: 1 })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: TICKET_TYPE })
      .setIssuer(ISSUER)
      .setAudience([AGENT_ID, 'agent-other'])
      .setSubject('c')
      .setJti('jti-aud-array')
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 60)
      .sign(key.privateKey);
    expect(await codeOf(verifier.verify(ticket))).toBe('ticket_wrong_audience');
  });
});

describe('DeferredTicketVerifier', () => {
  it('refuses until trust is set, then verifies', async () => {
    const key = await makeSigningKey();
    const verifier = new DeferredTicketVerifier();
    const ticket = await signTicket(key);
    expect(await codeOf(verifier.verify(ticket))).toBe('verifier_not_ready');
    verifier.setTrust({
      audience: AGENT_ID,
      issuer: ISSUER,
      keys: localKeys(key),
      registeredAt: 0,
    });
    expect(verifier.ready).toBe(true);
    expect(await codeOf(verifier.verify(ticket))).toBe('ok');
    verifier.setTrust({
      audience: 'renamed',
      issuer: ISSUER,
      keys: localKeys(key),
      registeredAt: 0,
    });
    expect(await codeOf(verifier.verify(ticket))).toBe('ticket_wrong_audience');
  });

  it('refuses tickets of an earlier registration once the agent registered again', async () => {
    const key = await makeSigningKey();
    const verifier = new DeferredTicketVerifier();
    const trust = { audience: AGENT_ID, issuer: ISSUER, keys: localKeys(key) };
    verifier.setTrust({ ...trust, registeredAt: 5_000 });
    const before = await signTicket(key, { reg: 5_000 });
    expect(await codeOf(verifier.verify(before))).toBe('ok');
    // Re-registered (same process or a restarted one): epoch 9_000 from the control plane.
    verifier.setTrust({ ...trust, registeredAt: 9_000 });
    expect(await codeOf(verifier.verify(before))).toBe('ticket_before_registration');
    expect(await codeOf(verifier.verify(await signTicket(key, { reg: null })))).toBe(
      'ticket_before_registration',
    );
    // Issued under the new registration, or a later one the agent has not heard of yet: fine.
    expect(await codeOf(verifier.verify(await signTicket(key, { reg: 9_000 })))).toBe('ok');
    expect(await codeOf(verifier.verify(await signTicket(key, { reg: 12_000 })))).toBe('ok');
  });
});

describe('ReplayGuard', () => {
  it('accepts a jti once and forgets it after the ticket expired', () => {
    let now = 1_000_000;
    const guard = new ReplayGuard(() => now);
    const exp = now / 1000 + 60;
    expect(guard.consume('a', exp)).toBe(true);
    expect(guard.consume('a', exp)).toBe(false);
    expect(guard.consume('b', exp)).toBe(true);
    now += 200_000;
    expect(guard.consume('c', now / 1000 + 60)).toBe(true);
    expect(guard.size).toBe(1);
  });
});
