// `npm run test:llama-server`: builds llama.cpp's llama-server if needed (cached per version outside
// the clone, so a second run is a quick no-op cmake build), then runs the tests of an ENGINE=openai
// agent in front of it. A failed build fails the run when LLAMA_SERVER_REQUIRED=1 (as in CI).
import { join } from 'node:path';
import { builtBinary, ROOT, runRealServerSuite } from './real-server-suite.mjs';

await runRealServerSuite({
  name: 'llama-server',
  project: 'llama-server',
  required: 'LLAMA_SERVER_REQUIRED',
  binEnv: 'LLAMA_SERVER_BIN',
  bin: builtBinary('build-llama-cpp.sh', 'llama-server'),
  build: { command: 'bash', args: [join(ROOT, 'scripts', 'build-llama-cpp.sh'), 'llama-server'] },
  limitSeconds: process.env.LLAMA_SERVER_BUILD_TIMEOUT ?? '1800',
});
