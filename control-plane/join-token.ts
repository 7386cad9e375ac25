// Checks the join token agents present (Authorization: Bearer …) in constant time.
import { createMiddleware } from 'hono/factory';
import { ApiError } from './errors.ts';

function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** With no join token configured (development mode) every agent may join. */
export function requireJoinToken(joinToken: string | undefined) {
  return createMiddleware(async (c, next) => {
    if (joinToken !== undefined) {
      const header = c.req.header('authorization') ?? '';
      const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
      if (!constantTimeEqual(presented, joinToken)) {
        throw new ApiError('unauthorized', 'Missing or invalid join token');
      }
    }
    await next();
  });
}
