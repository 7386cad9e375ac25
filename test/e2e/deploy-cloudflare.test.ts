// The local half of docs/deploy-cloudflare.md, run as written (only the two ports are swapped for
// free ones): in a fresh copy of the repository, `npm run dev:worker` brings up wrangler dev with
// migrations and development secrets, a real agent joins it, the admin CLI makes an API key, and
// curl streams one answer through the 307.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type Proc,
  ROOT,
  spawnProcess,
  stopProcess,
  TEST_ENGINE,
  waitFor,
} from '../../scripts/cluster.ts';
import { freePort } from './support/ports.ts';

const run = promisify(execFile);
const RUNBOOK = join(ROOT, 'docs', 'deploy-cloudflare.md');
// The runbook's agent runs the suites' engine, not whatever this host has built (scripts/cluster.ts).
const env = { WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', ENGINE: TEST_ENGINE };

/** The shell block that follows `<!-- runbook-local: name -->` in the runbook. */
function block(markdown: string, name: string): string {
  const m = new RegExp(`<!-- runbook-local: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(
    markdown,
  );
  if (!m?.[1]) throw new Error(`docs/deploy-cloudflare.md has no '${name}' block`);
  return m[1];
}

/** A copy of the repository as git sees it (committed or not, ignored files left out). */
async function copyOfRepository(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'titan-runbook-'));
  const { stdout } = await run('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: ROOT,
    maxBuffer: 16 * 2 ** 20,
  });
  for (const file of stdout.split('\0').filter(Boolean)) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await cp(join(ROOT, file), join(dir, file)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err; // deleted in the work tree, not yet in git
    });
  }
  // Installed packages and the demo model come from this checkout.
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  await symlink(join(ROOT, '.cache'), join(dir, '.cache'));
  return dir;
}

let dir: string;
let workerPort: number;
let agentPort: number;
let blocks: Record<'worker' | 'agent' | 'client', string>;
const procs: Proc[] = [];

const shell = (name: string, script: string) => {
  const p = spawnProcess(name, 'bash', ['-euo', 'pipefail', '-c', script], env, {
    cwd: dir,
    group: true,
  });
  procs.push(p);
  return p;
};

async function devVars(): Promise<Record<string, string>> {
  const text = await readFile(join(dir, '.dev.vars'), 'utf8');
  return Object.fromEntries(
    [...text.matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]),
  );
}

beforeAll(async () => {
  const markdown = await readFile(RUNBOOK, 'utf8');
  [workerPort, agentPort] = [await freePort(), await freePort()];
  const ports = (s: string) =>
    s.replaceAll('8787', String(workerPort)).replaceAll('8081', String(agentPort));
  blocks = {
    worker: ports(block(markdown, 'worker')),
    agent: ports(block(markdown, 'agent')),
    client: ports(block(markdown, 'client')),
  };
  dir = await copyOfRepository();
});

afterAll(async () => {
  for (const p of procs.reverse()) await stopProcess(p, 'SIGTERM', 15_000);
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('runs the local half of the Cloudflare runbook: dev:worker, an agent, the admin CLI, one answer', async () => {
  const worker = shell('dev:worker', blocks.worker);
  const cp = `http://127.0.0.1:${workerPort}`;
  await waitFor(
    'wrangler dev /healthz',
    async () => ((await fetch(`${cp}/healthz`)).ok ? true : undefined),
    120_000,
    [worker],
  );

  // Development secrets, private to this user; the Worker signs with the generated key.
  const vars = await devVars();
  expect(Object.keys(vars).sort()).toEqual(['ADMIN_KEY', 'JOIN_TOKEN', 'TICKET_PRIVATE_KEY']);
  expect((await stat(join(dir, '.dev.vars'))).mode & 0o077).toBe(0);
  const jwks = (await (await fetch(`${cp}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
  expect(jwks.keys).toHaveLength(1);
  // Keys mode, as deployed: a client without an API key is refused.
  expect((await fetch(`${cp}/v1/models`)).status).toBe(401);

  const agent = shell('agent', blocks.agent);
  await waitFor(
    'the agent registered with the Worker',
    async () => {
      const res = await fetch(`${cp}/admin/agents`, {
        headers: { authorization: `Bearer ${vars.ADMIN_KEY}` },
      });
      const { agents } = (await res.json()) as { agents: { url: string; state: string }[] };
      return agents.some((a) => a.url.endsWith(`:${agentPort}`) && a.state === 'healthy')
        ? true
        : undefined;
    },
    120_000,
    [worker, agent],
  );

  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', blocks.client], {
    cwd: dir,
    env: { ...process.env, ...env },
    timeout: 90_000,
  });
  // `agents list` shows the agent; the stream carries tokens and ends with [DONE].
  expect(stdout).toContain(`"url": "http://127.0.0.1:${agentPort}"`);
  const deltas = [...stdout.matchAll(/^data: (\{.*\})$/gm)].map(
    (m) =>
      (JSON.parse(m[1] as string) as { choices: { delta: { content?: string } }[] }).choices[0]
        ?.delta.content ?? '',
  );
  expect(deltas.join('').length).toBeGreaterThan(0);
  expect(stdout).toMatch(/^data: \[DONE\]$/m);
}, 300_000);
