// Shared by `npm run test:ollama` and `npm run test:llama-server`: build the real server (cached
// per version outside the clone, see scripts/cache-dir.sh), then run its vitest project against it.
// A build that fails or runs out of time fails the run when <NAME>_REQUIRED=1 (as .ci/run sets),
// with the last lines of the build's own output repeated at the very end of the log.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TAIL_LINES = 60;

/** Runs `command args` with its output passed through and its last lines kept. */
function runKeepingTail(command, args, env) {
  return new Promise((resolveRun) => {
    // detached: timeout(1) and the compilers it starts form their own group, stopped as one.
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = [];
    const keep = (chunk, out) => {
      out.write(chunk);
      tail = tail.concat(String(chunk).split('\n')).slice(-TAIL_LINES);
    };
    child.stdout.on('data', (c) => keep(c, process.stdout));
    child.stderr.on('data', (c) => keep(c, process.stderr));
    child.on('error', (error) => resolveRun({ status: null, tail: [String(error)] }));
    child.on('close', (status) => resolveRun({ status, tail }));
  });
}

/**
 * @param {{ name: string, project: string, required: string, binEnv: string, bin: string,
 *   build: { command: string, args: string[] }, limitSeconds: string }} suite
 */
export async function runRealServerSuite(suite) {
  const started = Date.now();
  const build = await runKeepingTail(
    'timeout',
    [
      '--kill-after=30',
      suite.limitSeconds,
      'nice',
      '-n',
      '10',
      suite.build.command,
      ...suite.build.args,
    ],
    process.env,
  );
  const seconds = Math.round((Date.now() - started) / 1000);
  if (build.status !== 0 || !existsSync(suite.bin)) {
    const why =
      build.status === 124
        ? `timed out after ${suite.limitSeconds}s`
        : `exit ${build.status}${existsSync(suite.bin) ? '' : `, ${suite.bin} missing`}`;
    const required = process.env[suite.required] === '1';
    console.log(
      `\n[test:${suite.name}] the build's last ${TAIL_LINES} lines:\n${build.tail.join('\n')}`,
    );
    console.log(
      `\n[test:${suite.name}] ${required ? 'FAILED' : 'NOT RUN'}: ${suite.name} could not be built (${why}). ` +
        (required
          ? `${suite.required}=1, so this fails the run.`
          : `Set ${suite.required}=1 to fail instead (CI does).`),
    );
    process.exit(required ? 1 : 0);
  }
  console.log(`[test:${suite.name}] build ready in ${seconds}s; running against ${suite.bin}`);
  const vitest = join(ROOT, 'node_modules', '.bin', 'vitest');
  const run = spawnSync(vitest, ['run', '--project', suite.project], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, [suite.binEnv]: suite.bin },
  });
  process.exit(run.status ?? 1);
}

/** The path a build script prints for its binary (`--print-bin`). */
export function builtBinary(script, ...args) {
  const out = spawnSync('bash', [join(ROOT, 'scripts', script), '--print-bin', ...args], {
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`${script} --print-bin failed: ${out.stderr}`);
  return out.stdout.trim();
}
