// The container test's tools: Debian's docker CLI, the compose binary scripts/ensure-docker.sh built
// (COMPOSE_BIN), scripts/titan.sh, and image builds with their times and sizes written to
// test-artifacts/docker/measurements.json (not committed).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, requiredEnv } from '../../scripts/cluster.ts';

const run = promisify(execFile);
export const DOCKER = process.env.DOCKER ?? '/usr/bin/docker';
export const COMPOSE_BIN = requiredEnv('COMPOSE_BIN', 'npm run test:docker');
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'docker');
const BIG = { maxBuffer: 64 * 1024 * 1024 };

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run(DOCKER, args, {
    ...BIG,
    env: { ...process.env, DOCKER_BUILDKIT: '1' },
  });
  return stdout.trim();
}

/** The base image scripts/docker-base.sh made (Debian from debootstrap, Node from npm). */
export async function baseImage(): Promise<string> {
  const { stdout } = await run('bash', [join(ROOT, 'scripts', 'docker-base.sh'), '--print-image']);
  return stdout.trim();
}

export interface Built {
  image: string;
  seconds: number;
  bytes: number;
}

/** The CA bundle this host's Node trusts, handed to the builds (a TLS-inspecting proxy's CA). */
function caBundle(): string[] {
  const bundle = [process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'].find(
    (f) => f && existsSync(f),
  );
  return bundle ? ['--secret', `id=ca,src=${bundle}`] : [];
}

/**
 * `docker build` of one Dockerfile from the repository root, as a user would, except that BASE is
 * the local base image and the build steps use the host's network (the registries this machine
 * reaches) and CA bundle, since the test's dockerd gives containers no route out.
 */
export async function buildImage(dockerfile: string, image: string, base: string): Promise<Built> {
  const started = Date.now();
  try {
    await run(
      DOCKER,
      [
        'build',
        '--network',
        'host',
        ...caBundle(),
        '--build-arg',
        `BASE=${base}`,
        '-f',
        dockerfile,
        '-t',
        image,
        '.',
      ],
      {
        ...BIG,
        cwd: ROOT,
        env: { ...process.env, DOCKER_BUILDKIT: '1', BUILDKIT_PROGRESS: 'plain' },
      },
    );
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `docker build -f ${dockerfile} failed:\n${(e.stderr ?? e.message).slice(-6000)}`,
    );
  }
  const seconds = (Date.now() - started) / 1000;
  const bytes = Number(await docker('image', 'inspect', '--format', '{{.Size}}', image));
  return { image, seconds, bytes };
}

export function recordMeasurements(values: Record<string, unknown>): void {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'measurements.json'), `${JSON.stringify(values, null, 2)}\n`);
  console.log(`[docker] ${JSON.stringify(values)}`);
}

/** scripts/titan.sh with the test's compose project, env file, images and ports. */
export function titan(env: Record<string, string>) {
  return async (command: 'start' | 'stop' | 'status'): Promise<string> => {
    try {
      const { stdout, stderr } = await run('bash', [join(ROOT, 'scripts', 'titan.sh'), command], {
        ...BIG,
        cwd: ROOT,
        env: { ...process.env, TITAN_COMPOSE: COMPOSE_BIN, ...env },
      });
      return `${stdout}${stderr}`;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`titan.sh ${command} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
    }
  };
}

/** The compose binary against the same project, for what titan.sh does not do (down -v, ps -q). */
export function compose(env: Record<string, string>) {
  return async (...args: string[]): Promise<string> => {
    const { stdout } = await run(
      COMPOSE_BIN,
      [
        '--project-directory',
        ROOT,
        '-f',
        join(ROOT, 'compose.yaml'),
        '--env-file',
        env.TITAN_ENV_FILE ?? '',
        ...args,
      ],
      { ...BIG, cwd: ROOT, env: { ...process.env, ...env } },
    );
    return stdout.trim();
  };
}

/** `curl -sS -L` as a user types it; returns the body and where the redirect led. */
export async function curlChat(port: number, apiKey: string, model: string) {
  const { stdout } = await run('curl', [
    '-sS',
    '-L',
    '--max-time',
    '120',
    '-w',
    '\n%{http_code} %{num_redirects} %{url_effective}',
    `http://127.0.0.1:${port}/v1/chat/completions`,
    '-H',
    `authorization: Bearer ${apiKey}`,
    '-H',
    'content-type: application/json',
    '-d',
    JSON.stringify({
      model,
      messages: [{ role: 'user', content: 'Say hello.' }],
      max_tokens: 16,
    }),
  ]);
  const lines = stdout.trimEnd().split('\n');
  const [status, redirects, url] = (lines.pop() ?? '').split(' ');
  return {
    status: Number(status),
    redirects: Number(redirects),
    url: url ?? '',
    body: JSON.parse(lines.join('\n')) as {
      choices?: { message?: { content?: string } }[];
    },
  };
}
