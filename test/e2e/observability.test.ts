// Observability with real processes: one request id from the 307 to the agent's answer and both
// sides' JSON log lines (a replayed ticket included), each agent's quantization in the fleet's
// lists, and an agent stopped with SIGTERM offline at once.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cluster,
  DEMO_MODEL,
  logLine,
  type Proc,
  startCluster,
  stopProcess,
  waitFor,
} from '../../scripts/cluster.ts';
import { freePort } from './support/ports.ts';

let cluster: Cluster;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-observe-'));
  cluster = await startCluster({
    cpPort: await freePort(),
    agentPorts: [await freePort()],
    dataDir,
    joinToken: 'e2e-join-token',
  });
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The process's JSON lines about one request. */
const linesAbout = (p: Proc, requestId: string) =>
  p.output.map(logLine).filter((l) => l.requestId === requestId);

const post = (url: string, body: unknown, init: RequestInit = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...init,
  });

describe('one request id end to end', () => {
  it('names the request in the 307, the answer, and both sides JSON lines; a replay too', async () => {
    const body = {
      model: DEMO_MODEL,
      messages: [{ role: 'user', content: 'Say hi.' }],
      max_tokens: 8,
    };
    const redirect = await post(`${cluster.url}/v1/chat/completions`, body, {
      redirect: 'manual',
    });
    expect(redirect.status).toBe(307);
    const requestId = redirect.headers.get('x-request-id') ?? '';
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const location = redirect.headers.get('location') ?? '';

    const answer = await post(location, body);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-request-id')).toBe(requestId);
    expect(((await answer.json()) as { id: string }).id).toBe(`chatcmpl-${requestId}`);

    // The same ticket again: refused, and logged under the same id (it used to log nothing).
    const replay = await post(location, body);
    expect(replay.status).toBe(401);
    expect(replay.headers.get('x-request-id')).toBe(requestId);

    const agent = cluster.agents[0] as Proc;
    const accessLines = await waitFor(
      'the access lines of the request and its replay',
      async () => {
        const lines = linesAbout(agent, requestId).filter((l) => l.msg === 'request');
        return lines.length === 2 ? lines : undefined;
      },
      10_000,
    );
    expect(accessLines[0]).toMatchObject({
      level: 'info',
      svc: 'agent',
      model: DEMO_MODEL,
      dialect: 'openai',
      status: 200,
      outcome: 'success',
      keyId: expect.any(String),
      tokensIn: expect.any(Number),
      tokensOut: expect.any(Number),
      ttftMs: expect.any(Number),
      durationMs: expect.any(Number),
    });
    expect(['stop', 'length']).toContain(accessLines[0]?.reason);
    expect(accessLines[1]).toMatchObject({
      level: 'warn',
      status: 401,
      outcome: 'rejected',
      reason: 'ticket_replayed',
    });

    const cpLines = await waitFor(
      "the control plane's decision and job-end lines",
      async () => {
        const lines = linesAbout(cluster.controlPlane, requestId);
        return lines.some((l) => l.msg === 'job ended') ? lines : undefined;
      },
      10_000,
    );
    expect(cpLines.map((l) => l.msg)).toEqual(['MCDA agent selected', 'job ended']);
    expect(cpLines[1]).toMatchObject({ svc: 'control-plane', outcome: 'success', released: true });

    // Every line about the request, on both sides, is one JSON object with level, time and svc.
    for (const line of [...linesAbout(agent, requestId), ...cpLines]) {
      expect(line).toMatchObject({ level: expect.any(String), svc: expect.any(String) });
      expect(Date.parse(String(line.time))).not.toBeNaN();
    }
  });
});

describe('quantization', () => {
  it("shows the agent's GGUF type (the demo model is Q4_1) in status and both model lists", async () => {
    const status = (await (await fetch(`${cluster.url}/v1/status`)).json()) as {
      agents: { models: { name: string; quantization: string | null }[] }[];
    };
    expect(status.agents[0]?.models).toEqual([
      expect.objectContaining({ name: DEMO_MODEL, quantization: 'Q4_1' }),
    ]);
    const models = (await (await fetch(`${cluster.url}/v1/models`)).json()) as {
      data: { id: string; quantizations: string[] }[];
    };
    expect(models.data).toEqual([
      expect.objectContaining({ id: DEMO_MODEL, quantizations: ['Q4_1'] }),
    ]);
    const tags = (await (await fetch(`${cluster.url}/api/tags`)).json()) as {
      models: { name: string; details: { quantization_level: string } }[];
    };
    expect(tags.models[0]?.details.quantization_level).toBe('Q4_1');
  });
});

describe('a stopped agent', () => {
  it('reads offline as soon as it has exited after SIGTERM, not after the heartbeat timeout', async () => {
    const agent = cluster.agents[0] as Proc;
    await stopProcess(agent, 'SIGTERM');
    expect(agent.child.exitCode).toBe(0);
    const status = (await (await fetch(`${cluster.url}/v1/status`)).json()) as {
      agents: { id: string; state: string }[];
    };
    expect(status.agents).toEqual([expect.objectContaining({ id: 'agent-1', state: 'offline' })]);
    expect(cluster.controlPlane.output.map(logLine)).toContainEqual(
      expect.objectContaining({ msg: 'agent offline by its own word', reason: 'stopped' }),
    );
  });
});
