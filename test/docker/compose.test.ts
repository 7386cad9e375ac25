// The container path as an operator takes it: both Dockerfiles built (on a Debian base made by
// debootstrap, see scripts/docker-base.sh), compose.yaml brought up by scripts/titan.sh, one chat
// completion with `curl -L` through the 307, an agent container killed and restarted by its restart
// policy, and everything brought down again. Run by `npm run test:docker`.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MODEL, waitFor } from '../../scripts/cluster.ts';
import { freePort } from '../e2e/support/ports.ts';
import {
  baseImage,
  buildImage,
  compose,
  curlChat,
  docker,
  recordMeasurements,
  titan,
} from './support.ts';

const tag = `test-${process.pid}`;
const images = {
  agent: `titancompute/agent:${tag}`,
  controlPlane: `titancompute/control-plane:${tag}`,
};
const dir = mkdtempSync(join(tmpdir(), 'titan-docker-'));
let env: Record<string, string>;
let titanSh: ReturnType<typeof titan>;
let composeCli: ReturnType<typeof compose>;
let port: number;
let agentPorts: number[];
let apiKey: string;

function settingIn(text: string, key: string): string {
  const line = text.split('\n').find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`${key} missing from the env file`);
  return line.slice(key.length + 1);
}

beforeAll(async () => {
  const base = await baseImage();
  const agent = await buildImage('agent/Dockerfile', images.agent, base);
  const controlPlane = await buildImage('control-plane/Dockerfile', images.controlPlane, base);
  const rebuilt = await buildImage('agent/Dockerfile', images.agent, base);
  recordMeasurements({
    base,
    baseBytes: Number(await docker('image', 'inspect', '--format', '{{.Size}}', base)),
    agent,
    controlPlane,
    agentCachedRebuildSeconds: rebuilt.seconds,
  });

  port = await freePort();
  agentPorts = [await freePort(), await freePort()];
  env = {
    COMPOSE_PROJECT_NAME: `titan-test-${process.pid}`,
    TITAN_ENV_FILE: join(dir, 'titan.env'),
    TITAN_BUILD: '0',
    TITAN_AGENT_IMAGE: images.agent,
    TITAN_CONTROL_PLANE_IMAGE: images.controlPlane,
    TITAN_PORT: String(port),
    TITAN_AGENT1_PORT: String(agentPorts[0]),
    TITAN_AGENT2_PORT: String(agentPorts[1]),
  };
  titanSh = titan(env);
  composeCli = compose(env);
  console.log(await titanSh('start'));
  apiKey = settingIn(readFileSync(env.TITAN_ENV_FILE as string, 'utf8'), 'TITAN_API_KEY');
});

afterAll(async () => {
  try {
    if (composeCli) await composeCli('down', '--volumes', '--timeout', '20');
  } finally {
    await docker('image', 'rm', '--force', images.agent, images.controlPlane).catch(() => '');
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The fleet as /v1/status reports it, through titan.sh status. */
async function fleetReady(): Promise<string | undefined> {
  const out = await titanSh('status');
  const ready = out.split('\n').filter((l) => /^agent-[12]\s+healthy\b/.test(l));
  return ready.length === 2 ? out : undefined;
}

describe('the images', () => {
  /** A shell command's output inside a fresh container of `image`. */
  const inside = (image: string, command: string) =>
    docker('run', '--rm', '--entrypoint', 'sh', image, '-c', command);

  it('hold the packed packages, compiled JavaScript with no TypeScript runner or sources', async () => {
    for (const [image, pkg] of [
      [images.agent, 'agent'],
      [images.controlPlane, 'control-plane'],
    ] as const) {
      const listing = await inside(
        image,
        `ls node_modules/@titancompute/${pkg} node_modules/@titancompute/${pkg}/dist; ` +
          'ls node_modules | grep -x -e tsx -e typescript -e esbuild -e wrangler || true; ' +
          `find node_modules/@titancompute -name '*.ts' ! -name '*.d.ts' | head -3`,
      );
      expect(listing).toMatch(/^cli\.js$/m);
      expect(listing).not.toMatch(/^(tsx|typescript|esbuild|wrangler)$/m);
      expect(listing).not.toMatch(/\.ts$/m);
    }
    // The agent image: only its own dependencies, and the embedded engine's CPU build beside it.
    const agentModules = await inside(images.agent, 'ls node_modules node_modules/@node-llama-cpp');
    expect(agentModules).not.toMatch(/^(better-sqlite3|drizzle-orm)$/m);
    expect(agentModules).toMatch(/^node-llama-cpp$/m);
    expect(agentModules.split('\n').filter((l) => l.startsWith('linux-'))).toEqual(['linux-x64']);
    expect(await inside(images.agent, 'agent engine status')).toMatch(/beside the agent/);
    expect(await inside(images.controlPlane, 'titan-control-plane --version')).toMatch(/0\.1\.0/);
  });
});

describe('compose.yaml: a control plane and two agents with the demo model', () => {
  it('titan.sh status shows every service healthy and both agents healthy in /v1/status', async () => {
    const out = await waitFor('both agents healthy in titan.sh status', fleetReady, 120_000);
    for (const service of ['control-plane', 'agent-1', 'agent-2']) {
      expect(out).toMatch(new RegExp(`^${service}\\s+running\\s+healthy`, 'm'));
    }
    expect(out).toMatch(/fleet \(GET \/v1\/status\): 2 agent\(s\)/);
  });

  it('answers a chat completion with curl -L through the 307 to an agent', async () => {
    const res = await curlChat(port, apiKey, DEMO_MODEL);
    expect(res.status).toBe(200);
    expect(res.redirects).toBe(1);
    expect(agentPorts).toContain(Number(new URL(res.url).port));
    expect(res.body.choices?.[0]?.message?.content?.length ?? 0).toBeGreaterThan(0);
  });

  it('restarts an agent container that was killed, and it serves again', async () => {
    const id = await composeCli('ps', '--quiet', 'agent-1');
    const pid = await docker('inspect', '--format', '{{.State.Pid}}', id);
    process.kill(Number(pid), 'SIGKILL');
    await waitFor(
      'agent-1 restarted by its restart policy',
      async () =>
        Number(await docker('inspect', '--format', '{{.RestartCount}}', id)) >= 1
          ? true
          : undefined,
      60_000,
    );
    await waitFor(
      'agent-1 healthy again',
      async () =>
        (await docker('inspect', '--format', '{{.State.Health.Status}}', id)) === 'healthy'
          ? true
          : undefined,
      180_000,
    );
    await waitFor('both agents healthy again in /v1/status', fleetReady, 120_000);
    const res = await curlChat(port, apiKey, DEMO_MODEL);
    expect(res.status).toBe(200);
    expect(res.body.choices?.[0]?.message?.content?.length ?? 0).toBeGreaterThan(0);
  });

  it('titan.sh stop brings every container down', async () => {
    await titanSh('stop');
    expect(await composeCli('ps', '--all', '--quiet')).toBe('');
  });
});
