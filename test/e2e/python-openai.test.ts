// The Python `openai` client (pinned, in a private virtualenv outside the clone: scripts/
// python-openai.sh) against a real cluster through the control plane's 307: a streamed answer, a
// tool call round trip, a json_schema answer parsed, embeddings, and n = 2
// (test/e2e/python/openai_client.py). An install that fails fails this file, pip's error last.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, DEMO_MODEL, startCluster } from '../../scripts/cluster.ts';
import { freePort } from './support/ports.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const SCRIPT = join(ROOT, 'test/e2e/python/openai_client.py');

let cluster: Cluster;
let dataDir: string;
let python: string;

/** The virtualenv's python; a failed install throws with pip's own output at the end. */
async function installClient(): Promise<string> {
  try {
    const { stdout } = await run(join(ROOT, 'scripts/python-openai.sh'), {
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout.trim().split('\n').at(-1) ?? '';
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(
      `installing the Python openai client failed (scripts/python-openai.sh):\n${stderr.trim() || String(err)}`,
    );
  }
}

beforeAll(async () => {
  python = await installClient();
  dataDir = await mkdtemp(join(tmpdir(), 'titan-e2e-python-'));
  cluster = await startCluster({
    cpPort: await freePort(),
    agentPorts: [await freePort()],
    dataDir,
    joinToken: 'e2e-join-token',
    maxConcurrentJobs: 2,
  });
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('the Python openai client through the 307', () => {
  it('streams, calls a tool, parses a json_schema answer, embeds and takes n = 2', async () => {
    let stdout: string;
    try {
      ({ stdout } = await run(python, [SCRIPT, cluster.url, DEMO_MODEL], { timeout: 500_000 }));
    } catch (err) {
      // The script's traceback says which step failed and why.
      const { stdout: out = '', stderr = '' } = err as { stdout?: string; stderr?: string };
      throw new Error(`${SCRIPT} failed (its progress and traceback):\n${out}${stderr}`);
    }
    const seen = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
    expect(seen.stream.text.length).toBeGreaterThan(0);
    expect(seen.tool_call).toMatchObject({
      name: 'get_weather',
      arguments: { city: expect.any(String) },
    });
    expect(seen.tool_call.answer.length).toBeGreaterThan(0);
    expect(seen.json_schema).toEqual({
      city: expect.any(String),
      population: expect.any(Number),
      coastal: expect.any(Boolean),
    });
    expect(seen.embeddings).toEqual({ count: 2, dimensions: 576 });
    expect(seen.n.choices).toHaveLength(2);
    expect(seen.n.completion_tokens).toBeLessThanOrEqual(2 * 8);
    // Eight answers from the 135M model on a shared 2-core host: a guard against hangs only.
  }, 540_000);
});
