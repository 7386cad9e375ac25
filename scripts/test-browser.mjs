// `npm run test:browser`: makes sure Debian's headless Chromium is installed (scripts/ensure-chromium.sh),
// then runs the browser tests (test/browser/) that drive it with playwright-core. When Chromium cannot
// be installed the run fails if BROWSER_REQUIRED=1 (as in CI), with the installer's output at the end.
import { join } from 'node:path';
import { builtBinary, ROOT, runRealServerSuite } from './real-server-suite.mjs';

await runRealServerSuite({
  name: 'browser',
  project: 'browser',
  required: 'BROWSER_REQUIRED',
  binEnv: 'CHROMIUM_BIN',
  bin: builtBinary('ensure-chromium.sh'),
  build: { command: 'bash', args: [join(ROOT, 'scripts', 'ensure-chromium.sh')] },
  limitSeconds: process.env.BROWSER_INSTALL_TIMEOUT ?? '900',
});
