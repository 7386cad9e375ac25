// `agent doctor` against real loopback servers: a control plane that answers (with a clock set
// apart), an agent URL nobody listens on, a recorded nvidia-smi answer from an H200, and files.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctor } from '../../../agent/doctor.ts';
import { freePort } from '../../e2e/support/ports.ts';
import { testAgentConfig } from './agent-config.ts';

const repo = resolve(import.meta.dirname, '../../..');
const h200 = readFileSync(join(repo, 'test/fixtures/gpu/query-noheader-nounits.csv'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'titan-doctor-'));
let controlPlane: Server;
let cpUrl: string;
/** What the fake control plane's Date header says, relative to now. */
let clockOffsetMs = 0;

beforeAll(async () => {
  controlPlane = createServer((req, res) => {
    res.setHeader('date', new Date(Date.now() + clockOffsetMs).toUTCString());
    res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
  });
  await new Promise<void>((ok) => controlPlane.listen(0, '127.0.0.1', ok));
  cpUrl = `http://127.0.0.1:${(controlPlane.address() as AddressInfo).port}`;
});

afterAll(() => {
  controlPlane.close();
  rmSync(dir, { recursive: true, force: true });
});

const byName = (checks: { name: string; status: string; detail: string }[]) =>
  Object.fromEntries(checks.map((c) => [c.name, c]));

describe('agent doctor', () => {
  it('passes a host that is ready, naming the GPUs nvidia-smi lists', async () => {
    const model = join(dir, 'model.gguf');
    writeFileSync(model, 'gguf');
    const checks = byName(
      await doctor(
        testAgentConfig({
          agentId: 'a',
          controlPlaneUrl: cpUrl,
          port: await freePort(),
          modelPath: model,
          dataDir: join(dir, 'data'),
          modelsDir: join(dir, 'data', 'models'),
        }),
        { exec: async () => h200 },
      ),
    );
    expect(checks['control plane']).toMatchObject({ status: 'ok' });
    expect(checks.clock).toMatchObject({ status: 'ok' });
    expect(checks.GPU).toMatchObject({ status: 'ok' });
    expect(checks.GPU?.detail).toContain('NVIDIA H200');
    // Which engine start would run, and why: llama-server where this host has built one.
    expect(checks.engine).toMatchObject({ status: 'ok' });
    expect(checks.engine?.detail).toMatch(/^(llama-server|llama-cpp): no OLLAMA_HOST; /);
    expect(checks.model).toMatchObject({ status: 'ok' });
    expect(checks['data folder']).toMatchObject({ status: 'ok' });
    expect(checks.disk?.status).toMatch(/ok|warn/);
    // Nothing listens there yet: said, not failed.
    expect(checks['public URL']).toMatchObject({ status: 'warn' });
  });

  it('says where the embedded engine comes from when it is the one to run', async () => {
    const model = join(dir, 'model.gguf');
    writeFileSync(model, 'gguf');
    const config = { agentId: 'a', controlPlaneUrl: cpUrl, port: await freePort() };
    const checks = byName(
      await doctor(testAgentConfig({ ...config, engine: 'llama-cpp', modelPath: model }), {
        exec: async () => h200,
      }),
    );
    // In a checkout node-llama-cpp is a dependency; an installed agent's is in its data folder.
    expect(checks['embedded engine']).toEqual({
      name: 'embedded engine',
      status: 'ok',
      detail: 'node-llama-cpp beside the agent',
    });
  });

  it('fails a skewed clock, a missing model, a loopback URL for a remote control plane', async () => {
    clockOffsetMs = -90_000;
    try {
      const local = byName(
        await doctor(
          testAgentConfig({
            agentId: 'a',
            controlPlaneUrl: cpUrl,
            port: await freePort(),
            modelPath: join(dir, 'missing.gguf'),
          }),
          {
            exec: async () => Promise.reject(Object.assign(new Error('spawn'), { code: 'ENOENT' })),
          },
        ),
      );
      expect(local.clock).toMatchObject({ status: 'fail' });
      expect(local.clock?.detail).toMatch(/^\+9\d s/);
      expect(local.model).toMatchObject({ status: 'fail' });
      expect(local.GPU).toMatchObject({ status: 'warn' });
      expect(local.GPU?.detail).toContain('no nvidia-smi');
    } finally {
      clockOffsetMs = 0;
    }
    const remote = await doctor(
      testAgentConfig({ agentId: 'a', controlPlaneUrl: 'http://cp.invalid', port: 8081 }),
      { exec: async () => h200, timeoutMs: 2000 },
    );
    expect(remote.find((c) => c.name === 'control plane')).toMatchObject({ status: 'fail' });
    expect(remote.find((c) => c.name === 'public URL' && c.status === 'fail')?.detail).toMatch(
      /loopback/,
    );
  });

  it("fails an operator's llama-server that is not there; warns when Ollama does not answer", async () => {
    const model = join(dir, 'model.gguf');
    writeFileSync(model, 'gguf');
    const base = { agentId: 'a', controlPlaneUrl: cpUrl, port: await freePort(), modelPath: model };
    const missing = byName(
      await doctor(testAgentConfig({ ...base, llamaServer: join(dir, 'no-llama-server') }), {
        exec: async () => h200,
      }),
    );
    expect(missing.engine).toMatchObject({ status: 'fail' });
    expect(missing.engine?.detail).toContain(`${join(dir, 'no-llama-server')} not found`);
    const noOllama = byName(
      await doctor(
        testAgentConfig({ ...base, ollamaHost: `http://127.0.0.1:${await freePort()}` }),
        { exec: async () => h200 },
      ),
    );
    expect(noOllama.engine).toMatchObject({ status: 'warn' });
    expect(noOllama.engine?.detail).toMatch(/^llama-(cpp|server): Ollama does not answer at /);
    expect(noOllama.model).toMatchObject({ status: 'ok' });
  });

  it('runs from the command line: a table, exit status 1 on a failure; --version', async () => {
    // Not spawnSync: the control plane these runs call lives in this process.
    const run = (...args: string[]) =>
      new Promise<{ status: number; stdout: string }>((ok) => {
        execFile(
          process.execPath,
          [join(repo, 'bin/agent.mjs'), ...args],
          {
            env: { ...process.env, AGENT_DATA_DIR: join(dir, 'cli-data'), PATH: '/nonexistent' },
            cwd: dir,
          },
          (err, stdout) => ok({ status: err ? Number(err.code) : 0, stdout }),
        );
      });
    const failed = await run('doctor', '--control-plane-url', cpUrl, '--model-path', 'nope.gguf');
    expect(failed.status).toBe(1);
    expect(failed.stdout).toMatch(/^ok\s+control plane\s+/m);
    expect(failed.stdout).toMatch(/^ok\s+engine\s+llama-(cpp|server): /m);
    expect(failed.stdout).toContain(`fail  model`);
    expect(failed.stdout).toContain(join(dir, 'nope.gguf'));
    const version = await run('--version');
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toMatch(/^agent \d+\.\d+\.\d+$/);
  });
});
