// Where the agent keeps its state: one data folder (credential, downloaded models), outside the
// package, and paths given by the operator read against the folder they were given in.
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

/** The demo model (`npm run model:fetch` in a checkout, `agent models pull` elsewhere). */
export const DEMO_MODEL_FILE = 'SmolLM2-135M-Instruct.Q4_1.gguf';

export interface PathContext {
  env: Record<string, string | undefined>;
  /** The folder relative paths on the command line or in the environment are read against. */
  cwd: string;
  /** The user's home folder (for the default data folder). */
  home: string;
  /** The package's own folder: its bundled catalog, and a checkout's `.cache/models`. */
  root: string;
}

/** `$XDG_STATE_HOME/titancompute/agent`, else `~/.local/state/titancompute/agent`. */
export function defaultDataDir(ctx: Pick<PathContext, 'env' | 'home'>): string {
  const state = ctx.env.XDG_STATE_HOME || join(ctx.home, '.local', 'state');
  return join(state, 'titancompute', 'agent');
}

/** An operator's path: absolute as given, relative to where it was given. */
export function operatorPath(ctx: Pick<PathContext, 'cwd'>, path: string): string;
export function operatorPath(
  ctx: Pick<PathContext, 'cwd'>,
  path: string | undefined,
): string | undefined;
export function operatorPath(ctx: Pick<PathContext, 'cwd'>, path: string | undefined) {
  if (path === undefined) return undefined;
  return isAbsolute(path) ? path : resolve(ctx.cwd, path);
}

export interface DataPaths {
  dataDir: string;
  /** The agent's control-plane credential, one file per agent id. */
  stateDir: string;
  /** Pulled model variants. */
  modelsDir: string;
  /** The embedded engine's model when none is named. */
  defaultModelPath: string;
}

/**
 * The data folder and what lives in it. The demo model is looked for in the data folder first,
 * then in a checkout's `.cache/models` (where `npm start` fetches it).
 */
export function dataPaths(
  ctx: PathContext,
  given: {
    dataDir?: string | undefined;
    stateDir?: string | undefined;
    modelsDir?: string | undefined;
  },
): DataPaths {
  const dataDir = operatorPath(ctx, given.dataDir) ?? defaultDataDir(ctx);
  const modelsDir = operatorPath(ctx, given.modelsDir) ?? join(dataDir, 'models');
  const inData = join(modelsDir, DEMO_MODEL_FILE);
  const inCheckout = join(ctx.root, '.cache', 'models', DEMO_MODEL_FILE);
  return {
    dataDir,
    stateDir: operatorPath(ctx, given.stateDir) ?? join(dataDir, 'credentials'),
    modelsDir,
    defaultModelPath: existsSync(inData) || !existsSync(inCheckout) ? inData : inCheckout,
  };
}
