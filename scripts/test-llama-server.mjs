// `npm run test:llama-server`: builds llama.cpp's llama-server if needed (time-boxed, cached in
// .cache/llama.cpp/build, so a second run is a quick no-op cmake build), then runs the tests of an
// ENGINE=openai agent in front of it. A build that cannot finish (no compiler or cmake, no PyPI,
// out of time) is reported loudly and does not fail the run unless LLAMA_SERVER_REQUIRED=1.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, '.cache', 'llama.cpp', 'build', 'bin', 'llama-server');
const limit = process.env.LLAMA_SERVER_BUILD_TIMEOUT ?? '1800';

// timeout(1) signals the whole process group on expiry, so cmake's compilers stop too; an
// interrupted build resumes where it stopped on the next run.
const started = Date.now();
const build = spawnSync(
  'timeout',
  [
    '--kill-after=30',
    limit,
    'nice',
    '-n',
    '10',
    'bash',
    join(ROOT, 'scripts', 'build-llama-cpp.sh'),
    'llama-server',
  ],
  { cwd: ROOT, stdio: 'inherit' },
);
const seconds = Math.round((Date.now() - started) / 1000);
if (build.status !== 0 || !existsSync(BIN)) {
  const why =
    build.status === 124 ? `timed out after ${limit}s` : `exit ${build.status ?? build.error}`;
  console.log(
    `\n[test:llama-server] NOT RUN: llama-server could not be built (scripts/build-llama-cpp.sh ${why}; ` +
      'raise LLAMA_SERVER_BUILD_TIMEOUT, or run it again: the build resumes). The OpenAI upstream ' +
      'engine is still covered by its unit tests and by test:ollama (Ollama /v1).\n',
  );
  process.exit(process.env.LLAMA_SERVER_REQUIRED === '1' ? 1 : 0);
}
console.log(`[test:llama-server] build ready in ${seconds}s; running against ${BIN}`);
const vitest = join(ROOT, 'node_modules', '.bin', 'vitest');
const run = spawnSync(vitest, ['run', '--project', 'llama-server'], {
  cwd: ROOT,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
