// The prefix digest's test vectors inside workerd: the Worker control plane hashes as Node does.
import { describe, expect, it } from 'vitest';
import { digestOfBody } from '../../protocol/prefix-digest.ts';
import { DIGEST_VECTORS } from '../unit/protocol/prefix-digest-vectors.ts';

describe('prefix digest in workerd', () => {
  for (const v of DIGEST_VECTORS) {
    it(`vector: ${v.name}`, async () => {
      expect(await digestOfBody(v.body)).toEqual(v.expected);
    });
  }
});
