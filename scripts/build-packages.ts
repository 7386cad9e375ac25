// `npm run build:packages [protocol|client|agent|control-plane …] [--no-types]` (and each
// package's `prepack`; the images build with --no-types):
// compiles the workspace packages into their dist/ folders (ADR 0018). esbuild bundles each
// package's entry points as ES modules with every npm dependency left external; an import of
// another package's source (agent -> ../protocol/x.ts) becomes an import of that package
// (`@titancompute/protocol/x`), so protocol is one real dependency. tsc writes the .d.ts of each
// package's public entry. The files the code finds beside itself at run time (the bundled model
// catalog, the SQL migrations) are copied into dist/.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { ROOT } from './cluster.ts';

interface PackageBuild {
  /** Entry points, relative to the repository root; each becomes dist/<file name>.js. */
  entries: string[];
  /** The entries whose declarations are published (with everything they import). */
  types: string[];
  /** Where the declarations go: flat in dist/ (`flat`), or under dist/types/ as in the repository. */
  typesLayout: 'flat' | 'tree';
  /** [from, to]: files the code reads beside itself, copied from the repository into dist/. */
  copy?: [string, string][];
}

const protocolModules = readdirSync(join(ROOT, 'protocol'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => `protocol/${f}`);

export const PACKAGES: Record<string, PackageBuild> = {
  protocol: { entries: protocolModules, types: protocolModules, typesLayout: 'flat' },
  client: {
    entries: ['client/titan-client.ts'],
    types: ['client/titan-client.ts'],
    typesLayout: 'flat',
  },
  agent: {
    entries: ['agent/cli.ts', 'agent/server.ts'],
    types: ['agent/server.ts'],
    typesLayout: 'tree',
    copy: [['agent/models/smollm2.catalog.json', 'smollm2.catalog.json']],
  },
  'control-plane': {
    entries: ['control-plane/node/cli.ts', 'control-plane/node/main.ts'],
    types: ['control-plane/node/main.ts'],
    typesLayout: 'tree',
    copy: [['migrations', 'migrations']],
  },
};

const PROTOCOL_DIR = join(ROOT, 'protocol');

/** `../protocol/x.ts` from outside protocol/ -> the package `@titancompute/protocol/x`. */
function protocolSpecifier(fromDir: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const target = resolve(fromDir, spec);
  if (dirname(target) !== PROTOCOL_DIR || fromDir === PROTOCOL_DIR) return undefined;
  return `@titancompute/protocol/${target.slice(PROTOCOL_DIR.length + 1).replace(/\.[jt]s$/, '')}`;
}

const protocolAsPackage: Plugin = {
  name: 'protocol-as-package',
  setup(b) {
    b.onResolve({ filter: /protocol\/[\w-]+\.ts$/ }, (args) => {
      const path = protocolSpecifier(args.resolveDir, args.path);
      return path ? { path, external: true } : undefined;
    });
  },
};

async function bundle(name: string, pkg: PackageBuild, outdir: string): Promise<void> {
  await build({
    absWorkingDir: ROOT,
    entryPoints: pkg.entries,
    outdir,
    // Every output file sits directly in dist/, so `new URL('../…', import.meta.url)` in any of
    // them names the package folder, as it names the repository folder from the sources.
    entryNames: '[name]',
    chunkNames: '[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    plugins: name === 'protocol' ? [] : [protocolAsPackage],
    logLevel: 'warning',
  });
}

/** One tsc run writes the declarations of every package's public entries into `out`. */
function declarations(names: string[], out: string): void {
  const files = names.flatMap((n) => PACKAGES[n]?.types ?? []).map((f) => join(ROOT, f));
  const config = join(out, 'tsconfig.json');
  writeFileSync(
    config,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: {
        noEmit: false,
        declaration: true,
        emitDeclarationOnly: true,
        rewriteRelativeImportExtensions: true,
        rootDir: ROOT,
        typeRoots: [join(ROOT, 'node_modules', '@types')],
        outDir: join(out, 'types'),
      },
      files,
      include: [],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', config], { cwd: ROOT, stdio: 'inherit' });
}

/** Copies a package's declarations into its dist/, its imports of protocol/ made package imports. */
function placeDeclarations(name: string, pkg: PackageBuild, types: string, dist: string): void {
  const dirs = name === 'control-plane' ? ['control-plane', 'schema'] : [name];
  for (const dir of dirs) {
    const from = join(types, dir);
    for (const file of readdirSync(from, { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.d.ts')) continue;
      const source = join(from, file);
      const inRepo = join(ROOT, dir, file); // where the .ts it describes lives
      const text = readFileSync(source, 'utf8').replace(
        /(from |import\()(['"])(\.{1,2}\/[^'"]+)\2/g,
        (_m, lead: string, q: string, spec: string) => {
          const pkgSpec = protocolSpecifier(dirname(inRepo), spec);
          return `${lead}${q}${pkgSpec ?? spec.replace(/\.ts$/, '.js')}${q}`;
        },
      );
      const target = pkg.typesLayout === 'flat' ? join(dist, file) : join(dist, 'types', dir, file);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, text);
    }
  }
}

/** `types: false`: the JavaScript only (container images run the code and publish no types). */
export async function buildPackages(
  names: string[],
  opts: { types?: boolean } = {},
): Promise<void> {
  const unknown = names.filter((n) => !(n in PACKAGES));
  if (unknown.length > 0)
    throw new Error(`unknown package ${unknown.join(', ')} (${Object.keys(PACKAGES).join(', ')})`);
  const tmp = mkdtempSync(join(tmpdir(), 'titan-types-'));
  try {
    const types = opts.types !== false;
    if (types) declarations(names, tmp);
    for (const name of names) {
      const pkg = PACKAGES[name] as PackageBuild;
      const dist = join(ROOT, name, 'dist');
      rmSync(dist, { recursive: true, force: true });
      await bundle(name, pkg, dist);
      for (const [from, to] of pkg.copy ?? [])
        cpSync(join(ROOT, from), join(dist, to), { recursive: true });
      if (types) placeDeclarations(name, pkg, join(tmp, 'types'), dist);
      console.log(`built ${relative(ROOT, dist)}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const names = args.filter((a) => a !== '--no-types');
  await buildPackages(names.length > 0 ? names : Object.keys(PACKAGES), {
    types: !args.includes('--no-types'),
  });
}
