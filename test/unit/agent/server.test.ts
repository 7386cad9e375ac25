// startAgent over real sockets: registers with a fake control plane, streams, disconnects, drains.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeEngine } from '../../../agent/engines/fake.ts';
import { silentLogger } from '../../../agent/log.ts';
import { type RunningAgent, startAgent } from '../../../agent/server.ts';
import { fixedStats, testAgentConfig } from './agent-config.ts';
import { type ReceivedCall, startFakeControlPlane } from './fake-control-plane.ts';
import { MODEL, makeSigningKey, parseSSE, signTicket, until } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(engine: FakeEngine, drainTimeoutMs = 5000) {
  const key = await makeSigningKey('srv');
  const cp = await startFakeControlPlane({
    jwks: { keys: [key.publicJwk] },
    agentId: 'agent-s',
    heartbeatIntervalMs: 50,
  });
  cleanups.push(() => cp.close());
  const config = testAgentConfig({
    agentId: 'agent-s',
    controlPlaneUrl: cp.url,
    maxConcurrentJobs: 2,
    maxQueue: 0,
    drainTimeoutMs,
  });
  const stats = fixedStats;

  const agent: RunningAgent = await startAgent(config, { engine, stats, log: silentLogger });
  cleanups.push(() => agent.shutdown('test'));
  await until(() => cp.received.some((r) => r.path === '/v1/agents/register'));
  const chat = async (init: RequestInit = {}) => {
    const ticket = await signTicket(key, { aud: 'agent-s' });
    return fetch(`${agent.url}/v1/chat/completions?ticket=${ticket}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      }),
      ...init,
    });
  };
  return { agent, cp, chat };
}

const jobReports = (cp: { received: ReceivedCall[] }) =>
  cp.received
    .filter((r) => r.path.includes('/jobs/') && !r.path.endsWith('/admitted'))
    .map((r) => r.body.outcome);
const admissions = (cp: { received: ReceivedCall[] }) =>
  cp.received.filter((r) => r.path.endsWith('/admitted')).map((r) => r.path);

describe('startAgent', () => {
  it('registers with its real URL, verifies tickets from the JWKS and reports the job', async () => {
    const { agent, cp, chat } = await setup(new FakeEngine({ models: [MODEL] }));
    const register = cp.received.find((r) => r.path === '/v1/agents/register');
    expect(register?.auth).toBe('Bearer join');
    expect(register?.body).toMatchObject({
      id: 'agent-s',
      url: agent.url,
      engine: 'fake',
      maxConcurrentJobs: 2,
    });
    const res = await chat();
    expect(res.status).toBe(200);
    expect(parseSSE(await res.text()).at(-1)).toBe('[DONE]');
    await until(() => jobReports(cp).length === 1);
    expect(jobReports(cp)).toEqual(['success']);
    // The admission was confirmed with the control plane, with the agent's credential.
    expect(admissions(cp)).toHaveLength(1);
    expect(admissions(cp)[0]).toMatch(/^\/v1\/agents\/agent-s\/jobs\/[^/]+\/admitted$/);
    await until(() => cp.received.some((r) => r.path === '/v1/agents/agent-s/heartbeat'));
  });

  it('aborts the generation and frees the slot when the client disconnects mid-stream', async () => {
    const engine = new FakeEngine({ models: [MODEL], tokens: Array(500).fill('x'), delayMs: 10 });
    const { agent, cp, chat } = await setup(engine);
    const client = new AbortController();
    const res = await chat({ signal: client.signal });
    const reader = res.body?.getReader();
    await reader?.read();
    expect(agent.jobs.active).toBe(1);
    client.abort();
    await until(() => agent.jobs.active === 0 && jobReports(cp).length === 1);
    expect(jobReports(cp)).toEqual(['cancelled']);
    expect(engine.aborted).toBe(1);
  });

  it('drains on shutdown: announces draining, refuses new work, finishes in-flight streams', async () => {
    const engine = new FakeEngine({ models: [MODEL], tokens: Array(30).fill('y'), delayMs: 10 });
    const { agent, cp, chat } = await setup(engine);
    const inflight = await chat();
    const stopping = agent.shutdown('test');
    await until(() => cp.received.some((r) => r.body.draining === true));
    const body = await inflight.text();
    expect(parseSSE(body).at(-1)).toBe('[DONE]');
    await stopping;
    expect(engine.closed).toBe(true);
    await expect(chat()).rejects.toThrow();
    expect(jobReports(cp)).toEqual(['success']);
    // The admission was confirmed with the control plane, with the agent's credential.
    expect(admissions(cp)).toHaveLength(1);
    expect(admissions(cp)[0]).toMatch(/^\/v1\/agents\/agent-s\/jobs\/[^/]+\/admitted$/);
    // Drained: its last word is that it is offline, with its own credential, after every report.
    expect(cp.received.at(-1)).toEqual({
      path: '/v1/agents/agent-s/offline',
      auth: 'Bearer tca-credential-of-agent-s',
      body: { reason: 'stopped' },
    });
  });
});
