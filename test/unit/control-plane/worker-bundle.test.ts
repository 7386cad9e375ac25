// `wrangler deploy --dry-run` must bundle the Worker, with no Node-only code inside.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('bundles the Worker with wrangler deploy --dry-run', { timeout: 120_000 }, async () => {
  const outdir = await mkdtemp(join(tmpdir(), 'titan-worker-'));
  try {
    await run('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outdir], {
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    });
    const bundle = await readFile(join(outdir, 'main.js'), 'utf8');
    expect(bundle).toContain('/.well-known/jwks.json');
    expect(bundle).not.toContain('better-sqlite3');
    expect(bundle).not.toContain('node-llama-cpp');
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
});
