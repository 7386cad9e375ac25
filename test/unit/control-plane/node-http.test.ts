// Node serving rules: development mode (no API keys) stays on loopback unless INSECURE=1.
import { describe, expect, it } from 'vitest';
import { startControlPlane } from '../../../control-plane/node.ts';
import { assertSafeBind, isLoopback } from '../../../control-plane/node-http.ts';

describe('serving without API keys', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.8.9.1', '::1', '[::1]', 'localhost']) {
      expect(isLoopback(h), h).toBe(true);
    }
    for (const h of ['0.0.0.0', '::', '10.0.0.5', 'cp.example.com', '128.0.0.1']) {
      expect(isLoopback(h), h).toBe(false);
    }
  });

  it('refuses a network bind in development mode unless told it is insecure', async () => {
    expect(() =>
      assertSafeBind({ authMode: 'development', host: '0.0.0.0', insecure: false }),
    ).toThrow(/INSECURE=1/);
    expect(() =>
      assertSafeBind({ authMode: 'development', host: '0.0.0.0', insecure: true }),
    ).not.toThrow();
    expect(() =>
      assertSafeBind({ authMode: 'keys', host: '0.0.0.0', insecure: false }),
    ).not.toThrow();
    await expect(
      startControlPlane({
        HOST: '0.0.0.0',
        PORT: '0',
        AUTH_MODE: 'development',
        DATA_DIR: '/nonexistent',
      }),
    ).rejects.toThrow(/refusing to serve 0\.0\.0\.0/);
  });
});
