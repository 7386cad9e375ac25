// The embedded engine installed into the data folder (agent/engines/embedded-install.ts) and the
// `agent engine` command: which packages each build is, the automatic choice, an install that
// replaces the old one only once complete, and the message when it is missing. npm is faked here;
// test/packages/ installs it for real from the packed agent.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { engineMain } from '../../../../agent/cli-engine.ts';
import { parseCommand } from '../../../../agent/config.ts';
import {
  chooseBuild,
  engineHome,
  enginePackages,
  installEngine,
  installedEngine,
  NODE_LLAMA_CPP_VERSION,
  type NpmRunner,
} from '../../../../agent/engines/embedded-install.ts';
import { missingEmbeddedEngine } from '../../../../agent/engines/embedded-module.ts';

const repo = resolve(import.meta.dirname, '../../../..');
const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'titan-engine-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An npm that records its arguments and lays out what `npm install` would. */
function fakeNpm(calls: string[][], fail?: string): NpmRunner {
  return async (args, cwd) => {
    calls.push(args);
    if (fail) throw new Error(fail);
    for (const spec of args.filter((a) => !a.startsWith('--') && a !== 'install')) {
      const name = spec.replace(/@[^@/]+$/, '');
      mkdirSync(join(cwd, 'node_modules', name), { recursive: true });
      writeFileSync(join(cwd, 'node_modules', name, 'package.json'), JSON.stringify({ name }));
    }
  };
}

describe('the embedded engine builds', () => {
  it('are node-llama-cpp and one prebuilt build, at the version the agent is built against', () => {
    const v = NODE_LLAMA_CPP_VERSION;
    expect(enginePackages('cpu', 'linux', 'x64')).toEqual([
      `node-llama-cpp@${v}`,
      `@node-llama-cpp/linux-x64@${v}`,
    ]);
    expect(enginePackages('cuda', 'linux', 'x64')).toEqual([
      `node-llama-cpp@${v}`,
      `@node-llama-cpp/linux-x64@${v}`,
      `@node-llama-cpp/linux-x64-cuda@${v}`,
      `@node-llama-cpp/linux-x64-cuda-ext@${v}`,
    ]);
    expect(enginePackages('cpu', 'darwin', 'arm64')).toContain(
      `@node-llama-cpp/mac-arm64-metal@${v}`,
    );
    expect(() => enginePackages('cuda', 'linux', 'arm64')).toThrow(/no prebuilt cuda.*there: cpu/);
    expect(() => enginePackages('cpu', 'aix', 'ppc64')).toThrow(/no prebuilt cpu build/);
  });

  it('match the node-llama-cpp of the checkout and the agent package', () => {
    const root = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
    const agent = JSON.parse(readFileSync(join(repo, 'agent/package.json'), 'utf8'));
    const installed = JSON.parse(
      readFileSync(join(repo, 'node_modules/node-llama-cpp/package.json'), 'utf8'),
    );
    expect(root.dependencies['node-llama-cpp']).toBe(NODE_LLAMA_CPP_VERSION);
    expect(agent.peerDependencies['node-llama-cpp']).toBe(NODE_LLAMA_CPP_VERSION);
    expect(agent.peerDependenciesMeta['node-llama-cpp'].optional).toBe(true);
    expect(agent.dependencies['node-llama-cpp']).toBeUndefined();
    expect(agent.optionalDependencies?.['node-llama-cpp']).toBeUndefined();
    expect(installed.version).toBe(NODE_LLAMA_CPP_VERSION);
    // Every build named here is one node-llama-cpp publishes.
    for (const build of ['cpu', 'cuda', 'vulkan'] as const) {
      for (const spec of enginePackages(build, 'linux', 'x64').slice(1)) {
        expect(Object.keys(installed.optionalDependencies)).toContain(spec.replace(/@[^@]+$/, ''));
      }
    }
  });

  it('auto: CUDA where nvidia-smi lists a GPU and a CUDA build exists, else CPU', async () => {
    expect(await chooseBuild('auto', async () => 1, 'linux', 'x64')).toBe('cuda');
    expect(await chooseBuild('auto', async () => 0, 'linux', 'x64')).toBe('cpu');
    let asked = false;
    const gpus = async () => {
      asked = true;
      return 1;
    };
    expect(await chooseBuild('auto', gpus, 'darwin', 'arm64')).toBe('cpu');
    expect(asked).toBe(false);
    expect(await chooseBuild('vulkan', async () => 1, 'linux', 'x64')).toBe('vulkan');
  });
});

describe('installEngine', () => {
  it('installs into <data>/engines with npm, no optional packages, and records the build', async () => {
    const data = scratch();
    const calls: string[][] = [];
    const done = await installEngine({ dataDir: data, build: 'cpu', npm: fakeNpm(calls) });
    expect(done.dir).toBe(join(data, 'engines', `node-llama-cpp-${NODE_LLAMA_CPP_VERSION}`));
    expect(calls[0]).toEqual(expect.arrayContaining(['install', '--omit=optional', '--omit=dev']));
    expect(calls[0]).toEqual(expect.arrayContaining(enginePackages('cpu')));
    expect(installedEngine(data)).toEqual({
      dir: engineHome(data),
      build: 'cpu',
      packages: enginePackages('cpu'),
    });
    expect(existsSync(`${engineHome(data)}.partial`)).toBe(false);
  });

  it('replaces the installed build only once the new one is complete', async () => {
    const data = scratch();
    await installEngine({ dataDir: data, build: 'cpu', npm: fakeNpm([]) });
    await expect(
      installEngine({ dataDir: data, build: 'vulkan', npm: fakeNpm([], 'ETIMEDOUT registry') }),
    ).rejects.toThrow(/ETIMEDOUT/);
    expect(installedEngine(data)?.build).toBe('cpu');
    await installEngine({ dataDir: data, build: 'vulkan', npm: fakeNpm([]) });
    expect(installedEngine(data)?.build).toBe('vulkan');
  });

  it('an interrupted install (no record) is not an installed engine', () => {
    const data = scratch();
    mkdirSync(join(engineHome(data), 'node_modules', 'node-llama-cpp'), { recursive: true });
    expect(installedEngine(data)).toBeUndefined();
  });
});

describe('agent engine', () => {
  const io = (data: string, out: string[], calls: string[][] = []) => ({
    env: {},
    cwd: data,
    home: data,
    root: repo,
    out: (s: string) => out.push(s),
    err: (s: string) => out.push(s),
    npm: fakeNpm(calls),
    gpuCount: async () => 1,
  });

  it('install picks the build (auto: CUDA with a GPU) into the data folder given', async () => {
    const data = scratch();
    const out: string[] = [];
    const calls: string[][] = [];
    expect(await engineMain(['install', '--data-dir', 'state'], io(data, out, calls))).toBe(0);
    expect(installedEngine(join(data, 'state'))?.build).toBe('cuda');
    expect(calls[0]).toContain(`@node-llama-cpp/linux-x64-cuda@${NODE_LLAMA_CPP_VERSION}`);
    expect(out.join('')).toMatch(/installed node-llama-cpp@.* in .*state\/engines/);

    out.length = 0;
    expect(await engineMain(['status', '--data-dir', 'state'], io(data, out))).toBe(0);
    expect(out.join('')).toMatch(/data folder: node-llama-cpp [\d.]+ \(cuda\) in /);
  });

  it('packages prints the npm specs of a build, for an install beside the agent', async () => {
    const out: string[] = [];
    expect(await engineMain(['packages', '--build', 'cpu'], io(scratch(), out))).toBe(0);
    expect(out.join('')).toBe(`${enginePackages('cpu').join('\n')}\n`);
  });

  it('refuses an unknown build or command', async () => {
    const out: string[] = [];
    expect(await engineMain(['install', '--build', 'rocm'], io(scratch(), out))).toBe(2);
    expect(out.join('')).toMatch(/--build must be auto or cpu, cuda, vulkan, got 'rocm'/);
    expect(await engineMain(['remove'], io(scratch(), out))).toBe(2);
  });

  it('says what failed when npm does', async () => {
    const out: string[] = [];
    const failing = { ...io(scratch(), out), npm: fakeNpm([], 'npm ERR! 404 Not Found') };
    expect(await engineMain(['install', '--build', 'cpu'], failing)).toBe(1);
    expect(out.join('')).toMatch(/agent engine: npm ERR! 404/);
  });
});

describe('agent start', () => {
  const ctx = { env: {}, cwd: '/srv', home: '/home/titan', root: repo, hostname: 'gpu-1' };

  it('installs the embedded engine unless --no-engine-install or ENGINE_INSTALL=0', () => {
    const config = (argv: string[], env = {}) => {
      const parsed = parseCommand(['start', ...argv], { ...ctx, env });
      if (parsed.command !== 'start') throw new Error(parsed.command);
      return parsed.config;
    };
    expect(config([]).engineInstall).toBe(true);
    expect(config(['--no-engine-install']).engineInstall).toBe(false);
    expect(config([], { ENGINE_INSTALL: '0' }).engineInstall).toBe(false);
  });

  it('names agent engine install when node-llama-cpp cannot be imported', () => {
    const err = Object.assign(new Error("Cannot find package 'node-llama-cpp' imported from x"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    expect(missingEmbeddedEngine(err)?.message).toMatch(
      /needs the npm package node-llama-cpp.*agent engine install.*--llama-server PATH/,
    );
    expect(missingEmbeddedEngine(new Error('other'))).toBeUndefined();
  });
});
