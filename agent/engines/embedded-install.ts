// The embedded engine (node-llama-cpp) is not installed with the agent package: npm would take
// every prebuilt build it considers compatible with the host, on x86-64 Linux 650 MB of CUDA and
// Vulkan builds the host may not use (ADR 0018). It is found beside the agent (a checkout, or an
// operator's `npm install node-llama-cpp`), or else in the agent's data folder, where
// `agent engine install` (and `agent start`, when the embedded engine is the one to run) installs
// node-llama-cpp with the one build this host needs: CUDA where nvidia-smi lists a GPU, else CPU.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { NVIDIA_SMI_ARGS, parseNvidiaSmiCsv } from '../stats.ts';

/** The node-llama-cpp the agent is built and tested against (the checkout's, agent/package.json's peer). */
export const NODE_LLAMA_CPP_VERSION = '3.22.1';

export const ENGINE_BUILDS = ['cpu', 'cuda', 'vulkan'] as const;
export type EngineBuild = (typeof ENGINE_BUILDS)[number];

/** node-llama-cpp's prebuilt packages (`@node-llama-cpp/<name>`) for each build, by platform. */
const PREBUILT: Record<string, Partial<Record<EngineBuild, string[]>>> = {
  'linux-x64': {
    cpu: ['linux-x64'],
    // One CUDA build split in two packages; the CPU build stays as node-llama-cpp's fallback.
    cuda: ['linux-x64', 'linux-x64-cuda', 'linux-x64-cuda-ext'],
    vulkan: ['linux-x64', 'linux-x64-vulkan'],
  },
  'linux-arm64': { cpu: ['linux-arm64'] },
  'linux-arm': { cpu: ['linux-armv7l'] },
  'darwin-arm64': { cpu: ['mac-arm64-metal'] },
  'darwin-x64': { cpu: ['mac-x64'] },
  'win32-x64': {
    cpu: ['win-x64'],
    cuda: ['win-x64', 'win-x64-cuda', 'win-x64-cuda-ext'],
    vulkan: ['win-x64', 'win-x64-vulkan'],
  },
  'win32-arm64': { cpu: ['win-arm64'] },
};

/** The npm specs that install `build` of the embedded engine on this platform. */
export function enginePackages(
  build: EngineBuild,
  platform: string = process.platform,
  arch: string = process.arch,
): string[] {
  const names = PREBUILT[`${platform}-${arch}`]?.[build];
  if (!names) {
    const builds = Object.keys(PREBUILT[`${platform}-${arch}`] ?? {});
    throw new Error(
      `node-llama-cpp has no prebuilt ${build} build for ${platform}-${arch}` +
        (builds.length ? ` (there: ${builds.join(', ')})` : ''),
    );
  }
  return [
    `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`,
    ...names.map((n) => `@node-llama-cpp/${n}@${NODE_LLAMA_CPP_VERSION}`),
  ];
}

/** `auto`: CUDA where nvidia-smi lists a GPU and a CUDA build exists for the platform, else CPU. */
export async function chooseBuild(
  wanted: EngineBuild | 'auto',
  gpuCount: () => Promise<number> = nvidiaGpuCount,
  platform: string = process.platform,
  arch: string = process.arch,
): Promise<EngineBuild> {
  if (wanted !== 'auto') return wanted;
  if (!PREBUILT[`${platform}-${arch}`]?.cuda) return 'cpu';
  return (await gpuCount()) > 0 ? 'cuda' : 'cpu';
}

async function nvidiaGpuCount(): Promise<number> {
  try {
    const { stdout } = await promisify(execFile)('nvidia-smi', NVIDIA_SMI_ARGS, { timeout: 5000 });
    return parseNvidiaSmiCsv(stdout).length;
  } catch {
    return 0;
  }
}

/** Where the data folder keeps this version of the engine. */
export function engineHome(dataDir: string): string {
  return join(dataDir, 'engines', `node-llama-cpp-${NODE_LLAMA_CPP_VERSION}`);
}

export interface InstalledEngine {
  dir: string;
  build: EngineBuild;
  packages: string[];
}

/** The engine a finished install left in the data folder (its record is written last). */
export function installedEngine(dataDir: string): InstalledEngine | undefined {
  const dir = engineHome(dataDir);
  try {
    const record = JSON.parse(readFileSync(join(dir, 'installed.json'), 'utf8'));
    return { dir, build: record.build, packages: record.packages };
  } catch {
    return undefined;
  }
}

/** node-llama-cpp resolves from the agent's own folder (a checkout, or installed beside it). */
export function engineBesideAgent(): boolean {
  try {
    createRequire(import.meta.url).resolve('node-llama-cpp');
    return true;
  } catch {
    return false;
  }
}

/** Runs `npm <args>` in `cwd`; rejects with npm's own last lines. */
export type NpmRunner = (args: string[], cwd: string) => Promise<void>;

const runNpm: NpmRunner = async (args, cwd) => {
  try {
    await promisify(execFile)('npm', args, {
      cwd,
      // Prebuilt binaries only: no download or compile of llama.cpp at install time.
      env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
      maxBuffer: 16 << 20,
      timeout: 30 * 60_000,
    });
  } catch (err) {
    const e = err as { code?: unknown; stderr?: string; message?: string };
    if (e.code === 'ENOENT') throw new Error('npm is not on PATH: it installs the embedded engine');
    const tail = (e.stderr || e.message || '').trim().split('\n').slice(-8).join('\n');
    throw new Error(`npm install of the embedded engine failed:\n${tail}`);
  }
};

/**
 * Installs node-llama-cpp with one prebuilt build into the data folder, replacing what was there
 * only once the new install is complete (a failed or interrupted install leaves the old one).
 */
export async function installEngine(opts: {
  dataDir: string;
  build: EngineBuild;
  npm?: NpmRunner;
}): Promise<InstalledEngine> {
  const dir = engineHome(opts.dataDir);
  const packages = enginePackages(opts.build);
  const staging = `${dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(
    join(staging, 'package.json'),
    `${JSON.stringify({ name: 'titancompute-agent-engine', private: true }, null, 2)}\n`,
  );
  await (opts.npm ?? runNpm)(
    ['install', '--omit=dev', '--omit=optional', '--no-audit', '--no-fund', ...packages],
    staging,
  );
  writeFileSync(
    join(staging, 'installed.json'),
    `${JSON.stringify({ build: opts.build, packages }, null, 2)}\n`,
  );
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return { dir, build: opts.build, packages };
}

let resolvingFrom: string | undefined;

/**
 * Makes `import('node-llama-cpp')` from the agent's code find the data folder's copy when it is not
 * beside the agent: a module resolution hook (node:module `register`) that retries the engine's
 * package names from that folder. node-llama-cpp's own imports resolve from where it lies.
 */
export function resolveEngineFrom(dir: string): void {
  if (resolvingFrom === dir) return;
  if (resolvingFrom !== undefined) {
    throw new Error(`the embedded engine already resolves from ${resolvingFrom}, not ${dir}`);
  }
  if (!existsSync(join(dir, 'node_modules', 'node-llama-cpp'))) {
    throw new Error(`no node-llama-cpp in ${dir}`);
  }
  const parentURL = pathToFileURL(join(dir, 'package.json')).href;
  const hook = `export async function resolve(specifier, context, next) {
  try { return await next(specifier, context); } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !/^(node-llama-cpp|@node-llama-cpp\\/)/.test(specifier)) throw err;
    return next(specifier, { ...context, parentURL: ${JSON.stringify(parentURL)} });
  }
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
  resolvingFrom = dir;
}
