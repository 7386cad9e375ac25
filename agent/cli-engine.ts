// `agent engine install|status|packages`: the embedded engine (node-llama-cpp with one prebuilt build) in
// the agent's data folder, for agents installed without it (agent/engines/embedded-install.ts).
import { parseArgs } from 'node:util';
import {
  chooseBuild,
  ENGINE_BUILDS,
  type EngineBuild,
  engineBesideAgent,
  engineHome,
  enginePackages,
  installEngine,
  installedEngine,
  NODE_LLAMA_CPP_VERSION,
  type NpmRunner,
} from './engines/embedded-install.ts';
import { dataPaths, type PathContext } from './paths.ts';

export const ENGINE_USAGE = `Usage: agent engine <install|status|packages> [options]

  install   install node-llama-cpp ${NODE_LLAMA_CPP_VERSION} with one prebuilt build into
            <data-dir>/engines (replacing the one there once the new one is complete)
  status    where the embedded engine comes from: beside the agent, the data folder, or nowhere
  packages  print the npm packages of a build, one per line, to install beside the agent
            instead (an image: npm install --omit=optional $(agent engine packages --build cpu))

Options (environment variable in brackets):
  --build <auto|${ENGINE_BUILDS.join('|')}>  which prebuilt build (default auto: cuda where nvidia-smi lists
                             a GPU, else cpu; cuda needs the driver and the CUDA runtime
                             libraries, libcudart and libcublas)
  --data-dir <dir>           the agent's data folder [AGENT_DATA_DIR]

agent start installs it the same way (build auto) when the embedded engine is the one to run
and none is found, unless --no-engine-install. Relative paths are read against the current folder.
`;

const OPTIONS = {
  build: { type: 'string', default: 'auto' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface EngineCliIo extends PathContext {
  out: (s: string) => void;
  err: (s: string) => void;
  npm?: NpmRunner;
  gpuCount?: () => Promise<number>;
}

export async function engineMain(argv: string[], io: EngineCliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`agent engine: ${(err as Error).message}\n\n${ENGINE_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(ENGINE_USAGE);
    return 0;
  }
  const build = values.build;
  if (build !== 'auto' && !ENGINE_BUILDS.includes(build as EngineBuild)) {
    io.err(`agent engine: --build must be auto or ${ENGINE_BUILDS.join(', ')}, got '${build}'\n`);
    return 2;
  }
  const { dataDir } = dataPaths(io, {
    dataDir: values['data-dir'] ?? io.env.AGENT_DATA_DIR,
  });
  const command = positionals[0];
  if (command === 'status') {
    const found = installedEngine(dataDir);
    if (engineBesideAgent()) io.out('node-llama-cpp: beside the agent (used first)\n');
    io.out(
      found
        ? `data folder: node-llama-cpp ${NODE_LLAMA_CPP_VERSION} (${found.build}) in ${found.dir}\n`
        : `data folder: none in ${engineHome(dataDir)}\n`,
    );
    return 0;
  }
  if (command === 'packages') {
    try {
      const chosen = await chooseBuild(build as EngineBuild | 'auto', io.gpuCount);
      io.out(`${enginePackages(chosen).join('\n')}\n`);
      return 0;
    } catch (err) {
      io.err(`agent engine: ${(err as Error).message}\n`);
      return 1;
    }
  }
  if (command !== 'install' || positionals.length > 1) {
    io.err(`agent engine: expected install, status or packages\n\n${ENGINE_USAGE}`);
    return 2;
  }
  try {
    const chosen = await chooseBuild(build as EngineBuild | 'auto', io.gpuCount);
    io.err(`installing node-llama-cpp ${NODE_LLAMA_CPP_VERSION} (${chosen}) with npm…\n`);
    const started = performance.now();
    const done = await installEngine({
      dataDir,
      build: chosen,
      ...(io.npm ? { npm: io.npm } : {}),
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    io.out(`installed ${done.packages.join(' ')} in ${done.dir} (${seconds} s)\n`);
    return 0;
  } catch (err) {
    io.err(`agent engine: ${(err as Error).message}\n`);
    return 1;
  }
}
