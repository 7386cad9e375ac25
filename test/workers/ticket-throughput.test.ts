// Ticket signing inside workerd: prints signatures/s per algorithm (a figure, never asserted).
import { describe, expect, it } from 'vitest';
import {
  createTicketSigner,
  generatePrivateKeyPem,
  type TicketAlg,
} from '../../control-plane/core/tickets.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const ALGS: TicketAlg[] = ['RS256', 'ES256', 'EdDSA'];
const COUNT: Record<TicketAlg, number> = { RS256: 300, ES256: 1500, EdDSA: 1500 };

describe('ticket signing in workerd', () => {
  it('signs with each algorithm and prints the rate', async () => {
    const lines: string[] = [];
    for (const alg of ALGS) {
      const signer = await createTicketSigner({
        issuer: 'titancompute',
        privateKeyPem: await generatePrivateKeyPem(alg),
        alg,
      });
      const now = Date.now();
      const sign = (i: number) =>
        signer.sign({
          sub: 'key_0123456789abcdef',
          aud: 'agent-1',
          jti: `jti-${i}`,
          model: 'smollm2:135m',
          maxTokens: 4096,
          issuedAtMs: now,
          expiresAtMs: now + 60_000,
          registration: 0,
        });
      await sign(-1);
      // workerd's clock may only advance across I/O: a timer turn before each reading makes it
      // current.
      await tick();
      const start = performance.now();
      const tickets = await Promise.all(Array.from({ length: COUNT[alg] }, (_, i) => sign(i)));
      await tick();
      const ms = performance.now() - start;
      expect(tickets).toHaveLength(COUNT[alg]);
      lines.push(
        `${alg}: ${COUNT[alg]} tickets in ${ms.toFixed(0)} ms = ${ms > 0 ? Math.round((COUNT[alg] * 1000) / ms) : 'n/a'}/s`,
      );
    }
    console.log(`ticket signing inside workerd (one batch, all in flight):\n${lines.join('\n')}`);
  });
});
