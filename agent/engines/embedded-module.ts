// node-llama-cpp is imported only where the embedded engine is used, so an agent without it
// (fronting Ollama, an OpenAI-compatible server or a managed llama-server) starts, and one asked
// for the embedded engine finds it beside the agent, or in its data folder (embedded-install.ts),
// installing it there first when allowed, or says plainly why it cannot.
import type { Logger } from '../log.ts';
import {
  chooseBuild,
  engineBesideAgent,
  engineHome,
  type InstalledEngine,
  installEngine,
  installedEngine,
  resolveEngineFrom,
} from './embedded-install.ts';

type EmbeddedEngineModule = typeof import('./llama-cpp.ts');
type NodeLlamaCpp = typeof import('node-llama-cpp');

/** Where this process looks for the embedded engine besides the agent's own folder. */
export interface EmbeddedEngineHome {
  dataDir?: string | undefined;
  /** Install it into the data folder when the embedded engine is to run and none is found. */
  install: boolean;
  log?: Logger;
}

let home: EmbeddedEngineHome = { install: false };
let installing: Promise<InstalledEngine> | undefined;

/** Set once at start (`agent start`, doctor, models) from --data-dir and --no-engine-install. */
export function useEmbeddedEngineHome(h: EmbeddedEngineHome): void {
  home = h;
}

/** The error to show for a failed import of node-llama-cpp, or undefined for any other error. */
export function missingEmbeddedEngine(err: unknown): Error | undefined {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes("'node-llama-cpp'")) return;
  const where = home.dataDir ? engineHome(home.dataDir) : 'the data folder';
  return new Error(
    'the embedded engine (ENGINE=llama-cpp) needs the npm package node-llama-cpp, which is neither ' +
      `installed beside the agent nor in ${where}` +
      (home.install ? '' : ' (--no-engine-install: the agent does not install it itself)') +
      ': run `agent engine install` (CUDA where nvidia-smi lists a GPU, else the CPU build), ' +
      'give a llama-server binary (--llama-server PATH), or choose ENGINE=ollama or ENGINE=openai',
  );
}

function explained(err: unknown): never {
  throw missingEmbeddedEngine(err) ?? err;
}

/** Makes node-llama-cpp importable when it can be: beside the agent, or in the data folder. */
async function locate(mayInstall: boolean): Promise<void> {
  if (engineBesideAgent() || !home.dataDir) return;
  const dataDir = home.dataDir;
  let found = installedEngine(dataDir);
  if (!found && mayInstall && home.install) {
    installing ??= (async () => {
      const build = await chooseBuild('auto');
      const log = home.log;
      log?.info('embedded engine: installing node-llama-cpp into the data folder', {
        build,
        dir: engineHome(dataDir),
        hint: 'agent engine install does this ahead of time; --no-engine-install refuses',
      });
      const started = performance.now();
      const done = await installEngine({ dataDir, build });
      log?.info('embedded engine: installed', {
        build,
        seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
      });
      return done;
    })();
    found = await installing;
  }
  if (found) resolveEngineFrom(found.dir);
}

/** node-llama-cpp for reading GGUF headers and loading models; never installs it. */
export async function importNodeLlamaCpp(opts: { install?: boolean } = {}): Promise<NodeLlamaCpp> {
  await locate(opts.install === true);
  return import('node-llama-cpp').catch(explained);
}

/** The embedded engine, about to run: installs node-llama-cpp first when allowed and missing. */
export async function importEmbeddedEngine(): Promise<EmbeddedEngineModule> {
  await locate(true);
  return import('./llama-cpp.ts').catch(explained);
}
