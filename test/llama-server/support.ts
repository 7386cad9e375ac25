// Starts the real llama-server (LLAMA_SERVER_BIN, built by scripts/build-llama-cpp.sh) on the demo
// model on a free loopback port, one thread, and waits until it is healthy.
import {
  DEMO_MODEL,
  DEMO_MODEL_PATH,
  type Proc,
  requiredEnv,
  spawnProcess,
  waitFor,
} from '../../scripts/cluster.ts';
import { freePort } from '../e2e/support/ports.ts';

const LLAMA_SERVER_BIN = requiredEnv('LLAMA_SERVER_BIN', 'npm run test:llama-server');

export async function startLlamaServer(opts: {
  slots: number;
  /** Total context (-c), split across the slots. */
  context: number;
  extraArgs?: string[];
}): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawnProcess(
    'llama-server',
    LLAMA_SERVER_BIN,
    [
      ...['-m', DEMO_MODEL_PATH, '--alias', DEMO_MODEL],
      ...['--host', '127.0.0.1', '--port', String(port)],
      ...['-np', String(opts.slots), '-c', String(opts.context)],
      ...['--threads', '1', '--threads-batch', '1'],
      // No prompt cache in RAM and no web UI: a small, quiet test server.
      ...['--cache-ram', '0', '--no-webui'],
      ...(opts.extraArgs ?? []),
    ],
    {},
  );
  await waitFor(
    'llama-server /health',
    async () => ((await fetch(`${url}/health`)).ok ? true : undefined),
    120_000,
    [proc],
  );
  return { proc, url };
}
