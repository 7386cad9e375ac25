// Ticket throughput in one Node process: signatures/s per algorithm (control plane) and
// verifications/s (agent verifier, keys cached). Run: npx tsx bench/tickets.ts [seconds-per-case]
import { cpus } from 'node:os';
import { createLocalJWKSet } from 'jose';
import { createTicketVerifier } from '../agent/tickets.ts';
import {
  createTicketSigner,
  generatePrivateKeyPem,
  type TicketAlg,
  type TicketSigner,
} from '../control-plane/core/tickets.ts';

const seconds = Number(process.argv[2] ?? 2);
const ALGS: TicketAlg[] = ['RS256', 'ES256', 'EdDSA'];

function input(i: number) {
  const now = Date.now();
  return {
    sub: 'key_0123456789abcdef',
    aud: 'agent-1',
    jti: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    model: 'smollm2:135m',
    maxTokens: 4096,
    issuedAtMs: now,
    expiresAtMs: now + 60_000,
    registration: 0,
  };
}

/** Runs `op` for `seconds`, `concurrency` at a time; returns operations per second. */
async function rate(op: (i: number) => Promise<unknown>, concurrency: number): Promise<number> {
  for (let i = 0; i < 50; i++) await op(i); // warm-up
  let done = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) await op(done++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (done * 1000) / (performance.now() - start);
}

const rows: string[] = [];
for (const alg of ALGS) {
  const signer: TicketSigner = await createTicketSigner({
    issuer: 'titancompute',
    privateKeyPem: await generatePrivateKeyPem(alg),
    alg,
  });
  const verifier = createTicketVerifier({
    audience: 'agent-1',
    issuer: 'titancompute',
    keys: createLocalJWKSet(signer.jwks()),
    registeredAt: 0,
  });
  const tickets = await Promise.all(Array.from({ length: 256 }, (_, i) => signer.sign(input(i))));
  const sign1 = await rate((i) => signer.sign(input(i)), 1);
  const sign16 = await rate((i) => signer.sign(input(i)), 16);
  const verify16 = await rate((i) => verifier.verify(tickets[i % tickets.length] as string), 16);
  rows.push(
    `| ${alg} | ${Math.round(sign1)} | ${Math.round(sign16)} | ${Math.round(verify16)} | ${tickets[0]?.length} |`,
  );
}

console.log(
  `Node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} (${cpus().length} cores), ${seconds} s per case\n`,
);
console.log(
  '| alg | signed/s (1 at a time) | signed/s (16 in flight) | verified/s (agent, 16 in flight) | ticket bytes |',
);
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(r);
