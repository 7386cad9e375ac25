// `npm run test:docker`: makes this machine ready for containers (scripts/ensure-docker.sh: Debian's
// docker.io and a running dockerd, Docker Compose v2 built from its Go module, a Debian base image
// with Node made by debootstrap), then runs the container test (test/docker/): both Dockerfiles
// built, compose.yaml up, one chat completion through the 307, an agent killed and restarted.
// When the daemon cannot be had the run prints NOT RUN, and fails if DOCKER_REQUIRED=1 (as in CI).
import { join } from 'node:path';
import { builtBinary, ROOT, runRealServerSuite } from './real-server-suite.mjs';

await runRealServerSuite({
  name: 'docker',
  project: 'docker',
  required: 'DOCKER_REQUIRED',
  binEnv: 'COMPOSE_BIN',
  bin: builtBinary('ensure-docker.sh'),
  build: { command: 'bash', args: [join(ROOT, 'scripts', 'ensure-docker.sh')] },
  limitSeconds: process.env.DOCKER_SETUP_TIMEOUT ?? '2400',
});
