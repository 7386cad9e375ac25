// `wrangler dev` (workerd + a local D1 in a temporary folder) as a child process for tests and
// benchmarks: migrations applied first, settings given as --var, ready once /healthz answers.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../test/e2e/support/ports.ts';
import { type Proc, ROOT, startProcess, stopProcess, untilHealthy } from './cluster.ts';

const WRANGLER = 'node_modules/wrangler/bin/wrangler.js';
const wranglerEnv = { WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' };

export interface WranglerDev {
  proc: Proc;
  url: string;
  /** The local D1's folder (`--persist-to`). */
  persist: string;
  /** Stops wrangler dev and removes its folder. */
  stop(): Promise<void>;
}

export async function startWranglerDev(vars: Record<string, string>): Promise<WranglerDev> {
  const persist = await mkdtemp(join(tmpdir(), 'titan-d1-'));
  await promisify(execFile)(
    process.execPath,
    [WRANGLER, 'd1', 'migrations', 'apply', 'titancompute', '--local', '--persist-to', persist],
    { cwd: ROOT, env: { ...process.env, ...wranglerEnv } },
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess(
    'wrangler-dev',
    WRANGLER,
    [
      ...['dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist],
      ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
      '--show-interactive-dev-session=false',
    ],
    wranglerEnv,
  );
  const stop = async () => {
    await stopProcess(proc, 'SIGINT');
    await rm(persist, { recursive: true, force: true });
  };
  await untilHealthy('wrangler dev /healthz', url, proc, stop);
  return { proc, url, persist, stop };
}
