// Ticket signatures with node:crypto, synchronously (ADR 0020). jose signs through WebCrypto, whose
// Node implementation runs each signature on the libuv thread pool and resumes the request only
// when the event loop next polls: under a fleet's heartbeats that wait was 20–50 ms of a decision
// that otherwise takes under 1 ms (bench/live-fleet.ts). Workers keep jose: WebCrypto is all they
// have, and an isolate serves one request at a time.
import { createPrivateKey, sign } from 'node:crypto';
import type { SyncSignatureFactory } from '../core/tickets.ts';

export const nodeSyncSignature: SyncSignatureFactory = (privateKeyPem, alg) => {
  const key = createPrivateKey(privateKeyPem);
  if (alg === 'EdDSA') return (data) => sign(null, data, key);
  if (alg === 'ES256') return (data) => sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  return (data) => sign('sha256', data, key);
};
