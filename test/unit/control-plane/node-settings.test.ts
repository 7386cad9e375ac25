// The Node control plane's own settings: one data folder outside any package (XDG state), the
// files in it, and bad values refused at start.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultDataDir, loadNodeSettings } from '../../../control-plane/node/settings.ts';

describe('loadNodeSettings', () => {
  it('keeps the database and ticket keys in the user state folder by default', () => {
    const s = loadNodeSettings({ XDG_STATE_HOME: '/state' });
    expect(s).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      insecure: false,
      dataDir: '/state/titancompute/control-plane',
      databasePath: '/state/titancompute/control-plane/control-plane.db',
      ticketKeyFile: '/state/titancompute/control-plane/ticket-key.pem',
      previousKeyFile: '/state/titancompute/control-plane/ticket-key.previous.pem',
      // Unset: each key's own algorithm, ES256 for a new key file.
      ticketAlg: undefined,
      maintenanceMs: 5_000,
    });
    expect(defaultDataDir({}, '/home/op')).toBe('/home/op/.local/state/titancompute/control-plane');
  });

  it('reads DATA_DIR against the current folder and takes explicit files and keys', () => {
    const s = loadNodeSettings({
      DATA_DIR: 'data',
      DATABASE_PATH: '/db/cp.db',
      PORT: '0',
      TICKET_ALG: 'EdDSA',
      TICKET_PREVIOUS_KEY: '-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----',
      MAINTENANCE_INTERVAL: '2s',
    });
    expect(s.dataDir).toBe(resolve('data'));
    expect(s.ticketKeyFile).toBe(join(resolve('data'), 'ticket-key.pem'));
    expect(s.databasePath).toBe('/db/cp.db');
    expect(s.port).toBe(0);
    expect(s.ticketAlg).toBe('EdDSA');
    expect(s.previousKeyPem).toBe('-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----');
    expect(s.maintenanceMs).toBe(2_000);
  });

  it('refuses a bad port or duration', () => {
    expect(() => loadNodeSettings({ PORT: 'http' })).toThrow(/PORT/);
    expect(() => loadNodeSettings({ MAINTENANCE_INTERVAL: 'soon' })).toThrow(
      /MAINTENANCE_INTERVAL/,
    );
  });
});
