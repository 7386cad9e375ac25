import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jtiOf } from '../../client/wire.ts';
import {
  type Cluster,
  DEMO_MODEL,
  DEMO_MODEL_PATH,
  type Proc,
  startCluster,
  startProcess,
  stopProcess,
  TEST_ENGINE,
  waitFor,
} from '../../scripts/cluster.ts';
import { startWranglerDev, type WranglerDev } from '../../scripts/wrangler-dev.ts';
import { freePort } from '../e2e/support/ports.ts';
import { launchBrowser, screenshot } from './support.ts';

const ADMIN_KEY = 'browser-test-admin-key';
const JOIN = 'browser-test-join-token';
/** Short enough that a killed agent reads offline within seconds (it sends no goodbye). */
const LIVENESS = {
  HEARTBEAT_INTERVAL: '2s',
  HEARTBEAT_TIMEOUT: '6s',
  LIVENESS_WRITE_INTERVAL: '2s',
};
const UI_TIMEOUT = 60_000;

/** Sends one chat request by hand (307, then the agent): its request id, the ticket's jti. */
async function sendRequest(cpUrl: string): Promise<string> {
  const body = JSON.stringify({
    model: DEMO_MODEL,
    messages: [{ role: 'user', content: 'Say hello.' }],
    max_tokens: 8,
  });
  const headers = { 'content-type': 'application/json' };
  const redirect = await fetch(`${cpUrl}/v1/chat/completions`, {
    method: 'POST',
    headers,
    body,
    redirect: 'manual',
  });
  expect(redirect.status).toBe(307);
  const location = redirect.headers.get('location') ?? '';
  const answer = await fetch(location, { method: 'POST', headers, body });
  expect(answer.status).toBe(200);
  await answer.json();
  return jtiOf(new URL(location).searchParams.get('ticket') ?? '');
}

/** Waits until an element matching `selector` shows `text`. */
async function waitForText(page: Page, selector: string, text: string) {
  await page.locator(selector, { hasText: text }).first().waitFor({ timeout: UI_TIMEOUT });
}

const fleetRow = (id: string) => `#fleet tr[data-key="${id}"]`;

interface Target {
  name: string;
  url: () => string;
  agents: [string, string];
  kill: () => Promise<void>;
}

function dashboardScenario(target: Target) {
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('refuses a wrong admin key, then signs in with the right one', async () => {
    await page.goto(`${target.url()}/dashboard`);
    await page.fill('#admin-key', 'not-the-admin-key');
    await page.click('#login button[type=submit]');
    await waitForText(page, '#login-error', 'refused');
    expect(await page.isVisible('#board')).toBe(false);
    await page.fill('#admin-key', ADMIN_KEY);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#board', { state: 'visible', timeout: UI_TIMEOUT });
    expect(await page.isVisible('#login')).toBe(false);
  });

  it('shows both agents with their quantization', async () => {
    for (const id of target.agents) {
      await waitForText(page, fleetRow(id), 'healthy');
      await waitForText(page, fleetRow(id), 'Q4_1');
    }
  });

  it('shows a request just sent, and its detail', async () => {
    const id = await sendRequest(target.url());
    const row = `#requests tr[data-key="${id}"]`;
    await waitForText(page, row, 'success');
    await waitForText(page, '#decisions', id);
    await page.click(`${row} button`);
    await waitForText(page, '#request-detail-body', id);
    await screenshot(page, `dashboard-${target.name}`);
  });

  it('shows an agent turn offline when it is killed', async () => {
    const [alive, killed] = target.agents;
    await target.kill();
    await waitForText(page, fleetRow(killed), 'offline');
    await waitForText(page, fleetRow(alive), 'healthy');
    await screenshot(page, `dashboard-${target.name}-offline`);
  });

  it('fits a phone screen: no sideways scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await waitForText(page, fleetRow(target.agents[1]), 'offline');
    // The charts follow their containers through a ResizeObserver, a frame or more after the
    // viewport shrinks: wait for the layout to settle (10 s at most), then measure.
    const overflowScript =
      'document.documentElement.scrollWidth - document.documentElement.clientWidth';
    await page
      .waitForFunction(`${overflowScript} === 0`, undefined, { timeout: 10_000 })
      .catch(() => undefined);
    expect(await page.evaluate(overflowScript)).toBe(0);
    await screenshot(page, `dashboard-${target.name}-phone`);
  });
}

describe('on a Node cluster (npm start)', () => {
  let cluster: Cluster | undefined;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'titan-dashboard-'));
    const [cpPort, a1, a2] = await Promise.all([freePort(), freePort(), freePort()]);
    cluster = await startCluster({
      cpPort,
      agentPorts: [a1, a2],
      dataDir,
      joinToken: JOIN,
      cpEnv: { ADMIN_KEY, ...LIVENESS },
      // Unsupervised: killing the agent process kills the whole agent, and nobody says goodbye.
      supervise: false,
    });
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  dashboardScenario({
    name: 'node',
    url: () => cluster?.url ?? '',
    agents: ['agent-1', 'agent-2'],
    kill: async () => {
      if (cluster?.agents[1]) await stopProcess(cluster.agents[1], 'SIGKILL');
    },
  });
});

describe('on wrangler dev (Workers + local D1)', () => {
  let dev: WranglerDev | undefined;
  const agents: Proc[] = [];
  let cpUrl = '';

  beforeAll(async () => {
    dev = await startWranglerDev({
      JOIN_TOKEN: JOIN,
      AUTH_MODE: 'development',
      ADMIN_KEY,
      ...LIVENESS,
    });
    cpUrl = dev.url;
    for (const id of ['edge-1', 'edge-2']) {
      agents.push(
        startProcess('agent', 'bin/agent.mjs', ['start'], {
          CONTROL_PLANE_URL: cpUrl,
          JOIN_TOKEN: JOIN,
          AGENT_ID: id,
          PORT: String(await freePort()),
          MODEL_PATH: DEMO_MODEL_PATH,
          SUPPORTED_MODELS: DEMO_MODEL,
          AGENT_SUPERVISE: '0',
          THREADS: '1',
          ENGINE: TEST_ENGINE,
        }),
      );
    }
    await waitFor(
      'both agents registered with wrangler dev',
      async () => {
        const s = (await (await fetch(`${cpUrl}/v1/status`)).json()) as {
          agents: { state: string }[];
        };
        return s.agents.filter((a) => a.state === 'healthy').length === 2 ? true : undefined;
      },
      120_000,
      [...(dev ? [dev.proc] : []), ...agents],
    );
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => stopProcess(a)));
    await dev?.stop();
  });

  dashboardScenario({
    name: 'workers',
    url: () => cpUrl,
    agents: ['edge-1', 'edge-2'],
    kill: async () => {
      if (agents[1]) await stopProcess(agents[1], 'SIGKILL');
    },
  });
});
