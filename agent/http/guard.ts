// A secret or loopback: the gate of the agent's operator endpoints (/admin/*, /metrics). With the
// secret set, every request must carry it as a Bearer token; without it, only clients on this
// host that no reverse proxy forwarded get in.
import { timingSafeEqual } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { bearerToken } from '../../protocol/bearer.ts';

/**
 * A request a reverse proxy forwarded: its socket peer is loopback, its client is not. Without
 * the secret, these are refused too.
 */
export function proxied(header: (name: string) => string | undefined): boolean {
  return ['forwarded', 'x-forwarded-for', 'x-real-ip'].some((h) => header(h) !== undefined);
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The Node socket's peer address (undefined outside a Node server, e.g. `app.request`). */
export function socketAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

export interface GuardOptions {
  /** The secret; undefined: loopback only. */
  secret: string | undefined;
  /** Error codes: `${prefix}_unauthorized` (401) and `${prefix}_forbidden` (403). */
  prefix: string;
  /** What the 403 says to set, e.g. `AGENT_ADMIN_KEY`. */
  setting: string;
  /** What the endpoints are, for messages: `admin endpoints`. */
  what: string;
  remoteAddress?: ((c: Context) => string | undefined) | undefined;
}

export function secretOrLoopback(o: GuardOptions): MiddlewareHandler {
  const remote = o.remoteAddress ?? socketAddress;
  return async (c, next) => {
    if (o.secret) {
      const given = bearerToken(c.req.header('authorization')) ?? '';
      if (!sameSecret(given, o.secret)) {
        return c.json(
          { error: { code: `${o.prefix}_unauthorized`, message: `${o.setting} required` } },
          401,
        );
      }
    } else if (!isLoopback(remote(c)) || proxied(c.req.header.bind(c.req))) {
      return c.json(
        {
          error: {
            code: `${o.prefix}_forbidden`,
            message: `${o.what} answer loopback clients only (or set ${o.setting})`,
          },
        },
        403,
      );
    }
    await next();
  };
}
