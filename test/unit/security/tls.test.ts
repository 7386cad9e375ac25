// TLS end to end in one process: an HTTPS control plane and an HTTPS agent with a self-signed
// certificate; the agent trusts it only through CONTROL_PLANE_CA.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../../../agent/config.ts';
import { FakeEngine } from '../../../agent/engines/fake.ts';
import type { Logger } from '../../../agent/log.ts';
import { type RunningAgent, startAgent } from '../../../agent/server.ts';
import { fetchTrusting } from '../../../agent/tls.ts';
import { type RunningControlPlane, startControlPlane } from '../../../control-plane/node/main.ts';
import { fixedStats, testAgentConfig } from '../agent/agent-config.ts';
import { until } from '../agent/helpers.ts';

let dir: string;
let cert: string;
let key: string;
let cp: RunningControlPlane;
const agents: RunningAgent[] = [];
const stats = fixedStats;

function agentConfig(id: string, ca: string | undefined): AgentConfig {
  return testAgentConfig({
    agentId: id,
    controlPlaneUrl: cp.url,
    joinToken: 'tls-join',
    tlsCert: cert,
    tlsKey: key,
    controlPlaneCa: ca,
  });
}

function recordingLog(lines: string[]): Logger {
  const push = (m: string, f?: Record<string, unknown>) => lines.push(`${m} ${JSON.stringify(f)}`);
  return { info: push, warn: push, error: push };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'titan-tls-'));
  cert = join(dir, 'cert.pem');
  key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  cp = await startControlPlane({
    PORT: '0',
    DATA_DIR: dir,
    JOIN_TOKEN: 'tls-join',
    AUTH_MODE: 'development',
    TICKET_ALG: 'ES256',
    TLS_CERT: cert,
    TLS_KEY: key,
  });
});

afterAll(async () => {
  for (const a of agents) await a.shutdown('test');
  await cp?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('TLS', () => {
  it('serves HTTPS on both sides; the agent registers by trusting the configured CA', async () => {
    expect(cp.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const trusted = fetchTrusting(cert);
    const agent = await startAgent(agentConfig('tls-agent', cert), {
      engine: new FakeEngine({ models: ['m'], tokens: ['hello'] }),
      stats,
      log: recordingLog([]),
    });
    agents.push(agent);
    expect(agent.url).toMatch(/^https:/);
    await until(() => agent.controlPlane.registration !== undefined, 10_000);

    const redirect = await trusted(`${cp.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      redirect: 'manual',
    });
    expect(redirect.status).toBe(307);
    const location = redirect.headers.get('location') ?? '';
    expect(location.startsWith(`${agent.url}/`)).toBe(true);
    const answer = await trusted(location, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ choices: [{ message: { content: 'hello' } }] });
    // Without the CA, plain fetch refuses the self-signed certificate.
    await expect(fetch(`${cp.url}/healthz`)).rejects.toThrow();
  });

  it('an agent without the CA cannot register: the certificate is verified', async () => {
    const lines: string[] = [];
    const agent = await startAgent(agentConfig('no-ca-agent', undefined), {
      engine: new FakeEngine({ models: ['m'] }),
      stats,
      log: recordingLog(lines),
    });
    agents.push(agent);
    await until(() => lines.some((l) => l.startsWith('cannot register')), 10_000);
    expect(agent.controlPlane.registration).toBeUndefined();
  });
});
