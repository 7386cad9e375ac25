// Metrics and request timelines with real processes (a control plane in keys mode, one agent):
// both /metrics pages take only METRICS_TOKEN (a client API key is refused), their counters and
// histograms move with the requests sent, and GET /v1/requests/:id tells a completed, a failed
// (refused at the agent) and an unfollowed request apart, for the key that made them only.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestTimeline } from '../../control-plane/core/timeline.ts';
import { type Cluster, DEMO_MODEL, ROOT, startCluster, waitFor } from '../../scripts/cluster.ts';
import { freePort } from './support/ports.ts';

const ADMIN_KEY = 'e2e-admin-key-0123456789abcdef';
const METRICS_TOKEN = 'e2e-metrics-token-0123456789';

let cluster: Cluster;
let dataDir: string;
let agentUrl: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-metrics-'));
  cluster = await startCluster({
    cpPort: await freePort(),
    agentPorts: [await freePort()],
    dataDir,
    joinToken: 'e2e-join-token',
    // Unfollowed tickets expire after 5 s and the next upkeep (every second) closes them.
    cpEnv: {
      AUTH_MODE: 'keys',
      ADMIN_KEY,
      METRICS_TOKEN,
      URL_TICKET_TTL: '5s',
      MAINTENANCE_INTERVAL: '1s',
    },
    agentEnv: { METRICS_TOKEN, CONTEXT_SIZE: '512' },
  });
  agentUrl = cluster.agentUrls[0] as string;
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

async function scrape(base: string): Promise<string> {
  const res = await fetch(`${base}/metrics`, { headers: bearer(METRICS_TOKEN) });
  expect(res.status).toBe(200);
  return res.text();
}

/** Sum of every sample of `name` whose labels include all of `labels` (`a="b"` pairs). */
function total(text: string, name: string, ...labels: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!labels.every((l) => line.includes(l))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

const chat = (maxTokens: number) => ({
  model: DEMO_MODEL,
  messages: [{ role: 'user', content: 'Say hi.' }],
  max_tokens: maxTokens,
});

/** The control plane's 307 for a chat request: the request id and where it sends the client. */
async function route(body: unknown) {
  const res = await fetch(`${cluster.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...bearer(cluster.apiKey ?? ''), 'content-type': 'application/json' },
    body: JSON.stringify(body),
    redirect: 'manual',
  });
  expect(res.status).toBe(307);
  return { id: res.headers.get('x-request-id') ?? '', location: res.headers.get('location') ?? '' };
}

/** Follows a redirect to the agent, as a client does (the key stays behind). */
const follow = (location: string, body: unknown) =>
  fetch(location, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

async function timeline(id: string, key: string) {
  const res = await fetch(`${cluster.url}/v1/requests/${id}`, { headers: bearer(key) });
  return { status: res.status, body: (await res.json()) as RequestTimeline };
}

describe('the scrape token', () => {
  it('both /metrics pages answer 401 without it and with a client API key, 200 with it', async () => {
    for (const base of [cluster.url, agentUrl]) {
      expect((await fetch(`${base}/metrics`)).status, base).toBe(401);
      const withKey = await fetch(`${base}/metrics`, { headers: bearer(cluster.apiKey ?? '') });
      expect(withKey.status, base).toBe(401);
      await scrape(base);
    }
  });
});

let completedId = '';

describe('metrics under load', () => {
  it('count the requests sent, on the agent and on the control plane', async () => {
    const [agentBefore, cpBefore] = [await scrape(agentUrl), await scrape(cluster.url)];
    // The embedded engine loaded its model as it started.
    expect(
      total(agentBefore, 'titan_agent_model_load_seconds_count', `model="${DEMO_MODEL}"`),
    ).toBe(1);
    expect(total(agentBefore, 'titan_agent_slots', 'kind="max"')).toBe(4);

    const sent = 3;
    const answers = await Promise.all(
      Array.from({ length: sent }, async () => {
        const { id, location } = await route(chat(8));
        const res = await follow(location, chat(8));
        expect(res.status).toBe(200);
        await res.json();
        return id;
      }),
    );
    completedId = answers[0] as string;

    const agentAfter = await scrape(agentUrl);
    const moved = (name: string, ...labels: string[]) =>
      total(agentAfter, name, ...labels) - total(agentBefore, name, ...labels);
    expect(moved('titan_agent_requests_total', 'outcome="success"')).toBe(sent);
    expect(moved('titan_agent_ttft_seconds_count')).toBe(sent);
    expect(moved('titan_agent_inter_token_seconds_count')).toBeGreaterThan(0);
    expect(moved('titan_agent_tokens_total', 'direction="out"')).toBeGreaterThanOrEqual(sent);
    expect(moved('titan_agent_tokens_total', 'direction="in"')).toBeGreaterThan(0);
    expect(agentAfter).toContain('titan_agent_queue_depth 0');

    // Job reports reach the control plane before each answer's last chunk leaves the agent.
    const cpAfter = await waitFor(
      'the job reports counted on the control plane',
      async () => {
        const text = await scrape(cluster.url);
        const jobs = total(text, 'titan_jobs_total', 'outcome="success"');
        return jobs - total(cpBefore, 'titan_jobs_total', 'outcome="success"') >= sent
          ? text
          : undefined;
      },
      10_000,
    );
    const cpMoved = (name: string, ...labels: string[]) =>
      total(cpAfter, name, ...labels) - total(cpBefore, name, ...labels);
    expect(cpMoved('titan_scheduler_decisions_total', 'policy="mcda"', 'outcome="routed"')).toBe(
      sent,
    );
    expect(cpMoved('titan_leases_total', 'change="taken"')).toBe(sent);
    expect(cpMoved('titan_leases_total', 'change="confirmed"')).toBe(sent);
    expect(cpMoved('titan_leases_total', 'change="released"')).toBe(sent);
    expect(cpMoved('titan_job_ttft_seconds_count', `model="${DEMO_MODEL}"`)).toBe(sent);
    expect(cpMoved('titan_job_tokens_total', 'direction="out"')).toBeGreaterThanOrEqual(sent);
    // The agents' first heartbeats come one interval (2 s here) after they registered.
    const withHeartbeats = await waitFor(
      'a heartbeat counted on the control plane',
      async () => {
        const text = await scrape(cluster.url);
        return total(text, 'titan_heartbeats_total') > 0 ? text : undefined;
      },
      10_000,
    );
    expect(withHeartbeats).toMatch(/^titan_agent_heartbeat_lag_seconds\{agent="agent-1"\} \d/m);
  });
});

describe('request timelines', () => {
  it('a completed request: decision, ticket, admission, first token, end', async () => {
    const { status, body } = await timeline(completedId, cluster.apiKey ?? '');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: completedId,
      model: DEMO_MODEL,
      state: 'success',
      outcome: 'success',
      ticket: { agent: 'agent-1' },
      error: null,
    });
    expect(['stop', 'length']).toContain(body.finishReason);
    expect(body.decision).toMatchObject({ policy: 'mcda', chosen: 'agent-1' });
    expect(body.decision?.candidates[0]).toMatchObject({ agent: 'agent-1' });
    expect(body.admittedAt).toBeGreaterThanOrEqual(body.ticket.issuedAt);
    expect(body.firstTokenAt).toBeGreaterThanOrEqual(body.ticket.issuedAt);
    expect(body.finishedAt).toBeGreaterThanOrEqual(body.firstTokenAt ?? Infinity);
    expect(body.tokensOut).toBeGreaterThan(0);
    expect(body.events.map((e) => e.event)).toEqual(['routed', 'admitted', 'first_token', 'ended']);
  });

  it('a failed request: refused at the agent, with its error', async () => {
    // The ticket allows 8 tokens; the body sent to the agent asks for 64.
    const { id, location } = await route(chat(8));
    const res = await follow(location, chat(64));
    expect(res.status).toBe(401);
    const { body } = await waitFor(
      'the refusal reported',
      async () => {
        const t = await timeline(id, cluster.apiKey ?? '');
        return t.body.outcome ? t : undefined;
      },
      10_000,
    );
    expect(body).toMatchObject({
      outcome: 'rejected',
      finishReason: 'ticket_max_tokens_exceeded',
      admittedAt: null,
      firstTokenAt: null,
    });
    expect(body.error).toMatch(/at most 8/);
    expect(body.events.map((e) => e.event)).toEqual(['routed', 'ended']);
  });

  it('an unfollowed request: issued, never admitted, then expired', async () => {
    const { id } = await route(chat(8));
    const open = await timeline(id, ADMIN_KEY);
    expect(open.body).toMatchObject({ state: 'issued', outcome: null, admittedAt: null });
    const { body } = await waitFor(
      'the unused ticket to expire',
      async () => {
        const t = await timeline(id, ADMIN_KEY);
        return t.body.outcome ? t : undefined;
      },
      20_000,
    );
    expect(body).toMatchObject({ state: 'expired', outcome: 'expired', admittedAt: null });
    expect(body.events.map((e) => e.event)).toEqual(['routed', 'ended']);
    const expired = await scrape(cluster.url);
    expect(total(expired, 'titan_leases_total', 'change="expired"')).toBeGreaterThanOrEqual(1);
  });

  it('another key gets 404; the admin CLI prints the same timeline', async () => {
    const other = await fetch(`${cluster.url}/admin/api-keys`, {
      method: 'POST',
      headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'someone else' }),
    });
    const otherKey = ((await other.json()) as { key: string }).key;
    expect((await timeline(completedId, otherKey)).status).toBe(404);

    const cli = spawnSync(
      process.execPath,
      ['bin/control-plane.mjs', 'requests', 'show', completedId, '--url', cluster.url],
      { cwd: ROOT, env: { ...process.env, ADMIN_KEY }, encoding: 'utf8' },
    );
    expect(cli.status, cli.stderr).toBe(0);
    const printed = JSON.parse(cli.stdout) as RequestTimeline;
    expect(printed).toEqual((await timeline(completedId, ADMIN_KEY)).body);
  });
});
