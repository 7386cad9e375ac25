// The packages as an operator gets them: `npm pack` each workspace, install the tarballs into
// empty folders outside the checkout with `npm install --omit=dev`, check what they hold and weigh
// (the agent alone, then with the embedded engine its own `agent engine install` puts in its data
// folder), then start the installed control plane and the installed agent (their own bins, not the
// checkout's), which installs its embedded engine as it starts, with the demo model, and stream one
// chat answer through the control plane's 307.
// Sizes and times are printed; `npm run bench -- packages` stores them (bench/packages.ts).
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  engineHome,
  enginePackages,
  NODE_LLAMA_CPP_VERSION,
} from '../../agent/engines/embedded-install.ts';
import {
  DEMO_MODEL,
  DEMO_MODEL_PATH,
  type Proc,
  spawnProcess,
  stopProcess,
  waitFor,
} from '../../scripts/cluster.ts';
import {
  type Install,
  installEngineWith,
  installedPackages,
  installInto,
  MB,
  type Packed,
  packAll,
  scratchDir,
  tarballFiles,
  WORKSPACES,
} from '../../scripts/package-install.ts';

const CP_PORT = 18380;
const AGENT_PORT = 18381;
const JOIN_TOKEN = 'packages-test-join-token';

let scratch: string[] = [];
let packed: Packed;
let agent: Install; // a plain install: no embedded engine
let engineCpu: Install; // `agent engine install --build cpu` into a data folder
let controlPlane: Install;
let client: Install;
const procs: Proc[] = [];

beforeAll(() => {
  expect(
    existsSync(DEMO_MODEL_PATH),
    `the demo model (${DEMO_MODEL_PATH}): npm run model:fetch`,
  ).toBe(true);
  const dest = scratchDir('tarballs');
  scratch.push(dest);
  packed = packAll(dest);
  const { protocol } = packed.tarballs;
  agent = installInto('agent', [protocol, packed.tarballs.agent]);
  engineCpu = installEngineWith(agent.dir, join(agent.dir, 'data-cpu'), 'cpu');
  controlPlane = installInto('control-plane', [protocol, packed.tarballs['control-plane']]);
  client = installInto('client', [protocol, packed.tarballs.client]);
  scratch.push(agent.dir, controlPlane.dir, client.dir);
  console.log(
    JSON.stringify({
      packSeconds: packed.seconds,
      installs: Object.fromEntries(
        Object.entries({ agent, engineCpu, controlPlane, client }).map(([k, v]) => [
          k,
          { seconds: Number(v.seconds.toFixed(1)), mb: Number((v.bytes / MB).toFixed(1)) },
        ]),
      ),
    }),
  );
}, 900_000);

afterAll(async () => {
  for (const p of procs) await stopProcess(p);
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  scratch = [];
});

describe('tarballs', () => {
  it.each(WORKSPACES)(
    '%s ships compiled JavaScript and no tests, benchmarks, CI or sources',
    (ws) => {
      const files = tarballFiles(packed.tarballs[ws]);
      expect(files).toContain('package/package.json');
      expect(files.some((f) => f.startsWith('package/dist/') && f.endsWith('.js'))).toBe(true);
      expect(files.some((f) => f.endsWith('.d.ts'))).toBe(true);
      expect(files.filter((f) => /^package\/(test|bench|\.ci|node_modules)\//.test(f))).toEqual([]);
      // TypeScript sources would make the bins take the checkout's tsx path.
      expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    },
  );
});

describe('the agent installed with npm install --omit=dev', () => {
  it(`weighs under 40 MB and holds no control-plane or build tool, nor the embedded engine`, () => {
    const names = installedPackages(join(agent.dir, 'node_modules'));
    expect(names).toContain('@titancompute/agent');
    for (const banned of ['tsx', 'better-sqlite3', 'drizzle-orm', 'wrangler', 'node-llama-cpp']) {
      expect(names).not.toContain(banned);
    }
    expect(agent.bytes / MB).toBeLessThan(40);
  });

  it('with the CPU build of the embedded engine in its data folder, weighs under 200 MB', async () => {
    const engines = installedPackages(join(engineHome(engineCpu.dir), 'node_modules'));
    // node-llama-cpp and the one prebuilt CPU package, no CUDA or Vulkan build.
    const wanted = enginePackages('cpu').map((spec) => spec.replace(/@[^@]+$/, ''));
    expect(engines.filter((n) => /node-llama-cpp/.test(n)).sort()).toEqual(wanted.sort());
    expect((agent.bytes + engineCpu.bytes) / MB).toBeLessThan(200);
    const status = spawnProcess(
      'agent-engine-status',
      join(agent.dir, 'node_modules', '.bin', 'agent'),
      ['engine', 'status', '--data-dir', 'data-cpu'],
      {},
      { cwd: agent.dir },
    );
    expect(await new Promise((ok) => status.child.once('exit', ok))).toBe(0);
    expect(status.output.join('\n')).toContain(
      `node-llama-cpp ${NODE_LLAMA_CPP_VERSION} (cpu) in `,
    );
    expect(status.output.join('\n')).toMatch(/\(cpu\) in .*data-cpu/);
  });

  it('runs --version, and with --no-engine-install refuses ENGINE=llama-cpp with a clear message', async () => {
    const bin = join(agent.dir, 'node_modules', '.bin', 'agent');
    const version = spawnProcess('agent-version', bin, ['--version'], {}, { cwd: agent.dir });
    const code = await new Promise((ok) => version.child.once('exit', ok));
    expect(code).toBe(0);
    expect(version.output.join('\n')).toMatch(/0\.1\.0/);

    const refused = spawnProcess(
      'agent-no-engine',
      bin,
      ['start', '--no-supervise'],
      {
        ENGINE: 'llama-cpp',
        ENGINE_INSTALL: '0',
        MODEL_PATH: DEMO_MODEL_PATH,
        CONTROL_PLANE_URL: `http://127.0.0.1:${CP_PORT}`,
        JOIN_TOKEN,
        PORT: String(AGENT_PORT + 1),
        AGENT_DATA_DIR: join(agent.dir, 'data-none'),
      },
      { cwd: agent.dir },
    );
    procs.push(refused);
    const exit = await new Promise((ok) => refused.child.once('exit', ok));
    expect(exit).not.toBe(0);
    expect(refused.output.join('\n')).toMatch(
      /needs the npm package node-llama-cpp, which is neither installed beside the agent.*agent engine install/,
    );
  });
});

describe('the installed control plane and agent', () => {
  it('hold only their own dependencies', () => {
    const agentNames = installedPackages(join(agent.dir, 'node_modules'));
    for (const banned of ['tsx', 'better-sqlite3', 'drizzle-orm', 'wrangler']) {
      expect(agentNames).not.toContain(banned);
    }
    const cpNames = installedPackages(join(controlPlane.dir, 'node_modules'));
    for (const banned of ['tsx', 'node-llama-cpp', 'wrangler', 'ollama', '@titancompute/agent']) {
      expect(cpNames).not.toContain(banned);
    }
    expect(cpNames).toContain('better-sqlite3');
  });

  it('stream a chat answer through the 307, with fetch and with the installed client', async () => {
    const cpUrl = `http://127.0.0.1:${CP_PORT}`;
    const cp = spawnProcess(
      'installed-control-plane',
      join(controlPlane.dir, 'node_modules', '.bin', 'titan-control-plane'),
      ['start'],
      {
        PORT: String(CP_PORT),
        HOST: '127.0.0.1',
        DATA_DIR: join(controlPlane.dir, 'data'),
        JOIN_TOKEN,
        AUTH_MODE: 'development',
        HEARTBEAT_INTERVAL: '2s',
      },
      { cwd: controlPlane.dir },
    );
    procs.push(cp);
    await waitFor(
      'control plane /healthz',
      async () => ((await fetch(`${cpUrl}/healthz`)).ok ? true : undefined),
      60_000,
      [cp],
    );
    // Its data folder has no engine yet: the agent installs the embedded one as it starts.
    const installed = spawnProcess(
      'installed-agent',
      join(agent.dir, 'node_modules', '.bin', 'agent'),
      ['start'],
      {
        CONTROL_PLANE_URL: cpUrl,
        JOIN_TOKEN,
        AGENT_ID: 'packaged-agent',
        // Its CPU engine, the embedded one, even where this host has built llama-server.
        ENGINE: 'llama-cpp',
        HOST: '127.0.0.1',
        PORT: String(AGENT_PORT),
        MODEL_PATH: DEMO_MODEL_PATH,
        SUPPORTED_MODELS: DEMO_MODEL,
        AGENT_DATA_DIR: join(agent.dir, 'data'),
      },
      { cwd: agent.dir },
    );
    procs.push(installed);
    await waitFor(
      'the installed agent registered',
      async () => ((await fetch(`${cpUrl}/readyz`)).ok ? true : undefined),
      240_000,
      [cp, installed],
    );
    expect(installed.output.join('\n')).toMatch(/embedded engine: installed/);
    expect(existsSync(join(engineHome(join(agent.dir, 'data')), 'installed.json'))).toBe(true);

    const res = await fetch(`${cpUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: DEMO_MODEL,
        messages: [{ role: 'user', content: 'Say hello.' }],
        max_tokens: 8,
        stream: true,
      }),
      redirect: 'follow',
    });
    expect(res.status).toBe(200);
    expect(res.url).toContain(`:${AGENT_PORT}/`);
    const body = await res.text();
    const deltas = body
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] })
      .map((c) => c.choices[0]?.delta.content ?? '')
      .join('');
    expect(deltas.length).toBeGreaterThan(0);
    expect(body).toContain('data: [DONE]');

    // The installed client package, from its own folder: routes, follows the ticket, streams.
    const script = `
      const { TitanClient } = await import('@titancompute/client');
      const titan = new TitanClient({ baseUrl: ${JSON.stringify(cpUrl)} });
      let text = '';
      for await (const event of titan.stream('/v1/chat/completions', {
        model: ${JSON.stringify(DEMO_MODEL)}, max_tokens: 8,
        messages: [{ role: 'user', content: 'Say hello.' }],
      })) text += event.choices[0]?.delta?.content ?? '';
      console.log(JSON.stringify({ text }));`;
    const run = spawnProcess(
      'installed-client',
      process.execPath,
      ['--input-type=module', '-e', script],
      {},
      { cwd: client.dir },
    );
    procs.push(run);
    expect(await new Promise((ok) => run.child.once('exit', ok))).toBe(0);
    const printed = JSON.parse(run.output.find((l) => l.startsWith('{"text"')) ?? '{}') as {
      text?: string;
    };
    expect(printed.text?.length).toBeGreaterThan(0);
  });
});
