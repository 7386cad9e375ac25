// SHA-256 hex, synchronous (node:crypto): the same digest as core/secrets.ts sha256Hex, without a
// promise and a thread-pool trip per call. For the agent credential cache (core/credential-cache.ts).
import { createHash } from 'node:crypto';

export const sha256HexSync = (text: string): string =>
  createHash('sha256').update(text).digest('hex');
