// The credential cache on its own: exact matches only, forgotten on change, bounded.
import { describe, expect, it } from 'vitest';
import { CredentialCache } from '../../../control-plane/core/credential-cache.ts';
import { sha256Hex } from '../../../control-plane/core/secrets.ts';
import { sha256HexSync } from '../../../control-plane/node/sha256.ts';

describe('CredentialCache', () => {
  it('hashes as the stored credential hashes do', async () => {
    expect(sha256HexSync('tca-secret')).toBe(await sha256Hex('tca-secret'));
  });

  it('holds only the exact agent id and hash it was given', () => {
    const cache = new CredentialCache(sha256HexSync);
    cache.remember('a', 'h1', cache.version);
    expect(cache.holds('a', 'h1')).toBe(true);
    expect(cache.holds('a', 'h2')).toBe(false);
    expect(cache.holds('b', 'h1')).toBe(false);
  });

  it('forgets an agent at once, and keeps no verification read before the change', () => {
    const cache = new CredentialCache(sha256HexSync);
    cache.remember('a', 'old', cache.version);
    // A lookup that started before the new credential was stored...
    const before = cache.version;
    cache.forget('a');
    expect(cache.holds('a', 'old')).toBe(false);
    // ...may have read the old hash: it must not come back into the cache.
    cache.remember('a', 'old', before);
    expect(cache.holds('a', 'old')).toBe(false);
    cache.remember('a', 'new', cache.version);
    expect(cache.holds('a', 'new')).toBe(true);
    cache.clear();
    expect(cache.holds('a', 'new')).toBe(false);
  });

  it('drops the least recently used agent beyond its capacity', () => {
    const cache = new CredentialCache(sha256HexSync, 2);
    cache.remember('a', 'ha', cache.version);
    cache.remember('b', 'hb', cache.version);
    expect(cache.holds('a', 'ha')).toBe(true);
    cache.remember('c', 'hc', cache.version);
    expect(cache.size).toBe(2);
    expect(cache.holds('b', 'hb')).toBe(false);
    expect(cache.holds('a', 'ha')).toBe(true);
    expect(cache.holds('c', 'hc')).toBe(true);
  });
});
