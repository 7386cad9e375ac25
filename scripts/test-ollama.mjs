// `npm run test:ollama`: builds Ollama if needed (cached per version outside the clone), then runs
// the tests against it. A failed build fails the run when OLLAMA_REQUIRED=1 (as in CI).
import { join } from 'node:path';
import { builtBinary, ROOT, runRealServerSuite } from './real-server-suite.mjs';

const limit = process.env.OLLAMA_BUILD_TIMEOUT ?? '1200';
await runRealServerSuite({
  name: 'ollama',
  project: 'ollama',
  required: 'OLLAMA_REQUIRED',
  binEnv: 'OLLAMA_BIN',
  bin: builtBinary('build-ollama.sh'),
  build: { command: 'bash', args: [join(ROOT, 'scripts', 'build-ollama.sh'), limit] },
  // build-ollama.sh time-boxes `go install` itself; this outer limit also covers the sdist fetch.
  limitSeconds: String(Number(limit) + 360),
});
