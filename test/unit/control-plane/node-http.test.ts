// Node serving rules: development mode stays on loopback unless INSECURE=1; slow clients time out.
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertSafeBind, isLoopback } from '../../../control-plane/node/http.ts';
import { startControlPlane } from '../../../control-plane/node/main.ts';

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

describe('slow clients', () => {
  it('a client that never finishes its headers gets 408 and loses the connection', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'titan-slow-'));
    const cp = await startControlPlane({
      PORT: '0',
      DATA_DIR: dir,
      AUTH_MODE: 'development',
      JOIN_TOKEN: 'j',
      HEADERS_TIMEOUT: '300ms',
    });
    try {
      const { port } = new URL(cp.url);
      const socket = connect(Number(port), '127.0.0.1');
      let received = '';
      socket.on('data', (b) => {
        received += b.toString();
      });
      socket.write('POST /v1/route HTTP/1.1\r\nHost: cp\r\nX-Slow: ');
      await new Promise((resolve) => socket.once('close', resolve));
      expect(received).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await cp.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
