// Packs the workspace packages (`npm pack`, which builds them) and installs tarballs into empty
// folders outside the checkout, as an operator would; measures each install's time and size on
// disk. Used by the packages test (test/packages/) and `npm run bench -- packages`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './cluster.ts';

export const WORKSPACES = ['protocol', 'client', 'agent', 'control-plane'] as const;
export type Workspace = (typeof WORKSPACES)[number];

/** Installs never compile or download engine binaries at install time (CI sets the same). */
const INSTALL_ENV = { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' };

export interface Packed {
  tarballs: Record<Workspace, string>;
  seconds: number;
}

/** A fresh folder under the system's temporary folder (never inside the checkout). */
export function scratchDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `titan-${name}-`));
}

/** `npm pack` in each workspace folder (its prepack builds dist/), tarballs into `dest`. */
export function packAll(dest: string): Packed {
  const started = performance.now();
  const tarballs = {} as Record<Workspace, string>;
  for (const ws of WORKSPACES) {
    const before = new Set(readdirSync(dest));
    execFileSync('npm', ['pack', '--pack-destination', dest, '--silent'], {
      cwd: join(ROOT, ws),
      env: INSTALL_ENV,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const made = readdirSync(dest).filter((f) => f.endsWith('.tgz') && !before.has(f));
    if (made.length !== 1)
      throw new Error(`npm pack in ${ws}/ made ${made.join(', ') || 'nothing'}`);
    tarballs[ws] = join(dest, made[0] as string);
  }
  return { tarballs, seconds: (performance.now() - started) / 1000 };
}

/** The paths inside a tarball (`package/…`). */
export function tarballFiles(tarball: string): string[] {
  return execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

export interface Install {
  dir: string;
  seconds: number;
  /** node_modules on disk (du), in bytes. */
  bytes: number;
}

/** `npm install --omit=dev [flags] <specs…>` into a new empty folder. */
export function installInto(name: string, specs: string[], flags: string[] = []): Install {
  const dir = scratchDir(name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name, private: true })}\n`);
  const started = performance.now();
  execFileSync(
    'npm',
    ['install', '--omit=dev', ...flags, '--no-audit', '--no-fund', '--loglevel=error', ...specs],
    { cwd: dir, env: INSTALL_ENV, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const seconds = (performance.now() - started) / 1000;
  return { dir, seconds, bytes: diskBytes(join(dir, 'node_modules')) };
}

/** Bytes on disk under a folder (`du -sb`: apparent sizes, as a tarball or a copy counts them). */
export function diskBytes(path: string): number {
  const out = execFileSync('du', ['-sb', path], { encoding: 'utf8' });
  return Number(out.split('\t')[0]);
}

/** The names of the packages installed anywhere in a node_modules tree, nested ones included. */
export function installedPackages(nodeModules: string): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const scoped = entry.name.startsWith('@');
    const dirs = scoped
      ? readdirSync(join(nodeModules, entry.name)).map((n) => `${entry.name}/${n}`)
      : [entry.name];
    for (const name of dirs) {
      names.push(name);
      const nested = join(nodeModules, name, 'node_modules');
      if (existsSync(nested)) names.push(...installedPackages(nested));
    }
  }
  return names;
}

/**
 * `agent engine install --build <build>` run by an installed agent (its own bin, from its folder):
 * node-llama-cpp with one prebuilt build into `<dataDir>/engines`. `bytes` is that folder on disk.
 */
export function installEngineWith(agentDir: string, dataDir: string, build: string): Install {
  const started = performance.now();
  execFileSync(
    join(agentDir, 'node_modules', '.bin', 'agent'),
    ['engine', 'install', '--build', build, '--data-dir', dataDir],
    { cwd: agentDir, env: INSTALL_ENV, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const seconds = (performance.now() - started) / 1000;
  return { dir: dataDir, seconds, bytes: diskBytes(join(dataDir, 'engines')) };
}

export const MB = 1024 * 1024;
