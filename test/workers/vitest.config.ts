// The workers project: tests run inside workerd (Miniflare) with a real local D1 database.
import { generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineProject } from 'vitest/config';

const root = fileURLToPath(new URL('../..', import.meta.url));
// An RSA key, as existing deployments have: wrangler.toml pins no TICKET_ALG, so the Worker must
// read RS256 from the key (new keys are ES256; worker-entry.test.ts checks both).
const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

export default defineProject({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: `${root}/wrangler.toml` },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations(`${root}/migrations`),
          TICKET_PRIVATE_KEY: privateKey,
          JOIN_TOKEN: 'test-join-token',
          ADMIN_KEY: 'test-admin-key',
        },
      },
    })),
  ],
  test: {
    name: 'workers',
    include: ['**/*.test.ts'],
    setupFiles: ['./apply-migrations.ts'],
    // A guard against hangs, not a speed limit (a loaded 2-core CI host is slow to start workerd).
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
