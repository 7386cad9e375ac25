// What the dashboard costs the Node control plane: CPU seconds per minute of the control-plane
// process (utime + stime from /proc/<pid>/stat) with no page open, then with the dashboard open in
// headless Chromium and polling, alternated for a few rounds. The control plane runs as `npm start`
// runs it (two agents sending heartbeats) over a database seeded with a day of ticket history.
// Then each data endpoint alone, in a burst: CPU per request, times the rate the page asks for it.
//   npx tsx bench/dashboard-cost.ts [--seconds 60] [--rounds 2] [--tickets 50000] [--burst 200]
//                                   [--json out.json]
// Needs Chromium (CHROMIUM_BIN, default /usr/bin/chromium; scripts/ensure-chromium.sh installs it).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { databasePathOf } from '../control-plane/node/settings.ts';
import { openSqlite } from '../control-plane/node/sqlite.ts';
import { DEMO_MODEL, startCluster } from '../scripts/cluster.ts';
import { streamChat } from '../scripts/sse.ts';
import { freePort } from '../test/e2e/support/ports.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '2' },
    tickets: { type: 'string', default: '50000' },
    burst: { type: 'string', default: '200' },
    json: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const seededTickets = Number(values.tickets);
const burst = Number(values.burst);
const ENDPOINTS = ['fleet', 'decisions', 'requests', 'series'];
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ADMIN_KEY = 'bench-admin-key';
const DAY_MS = 24 * 3_600_000;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** A day of closed tickets (the default TICKET_RETENTION), as a busy control plane holds them. */
function seed(dataDir: string, count: number) {
  const { sqlite } = openSqlite(databasePathOf({ DATA_DIR: dataDir }));
  const insert = sqlite.prepare(`INSERT INTO tickets (jti, agent_id, model, client, state,
    issued_at, expires_at, claim_until, admitted_at, finished_at, prompt_tokens, completion_tokens,
    ttft_ms, duration_ms) VALUES (?, ?, ?, 'bench', ?, ?, ?, ?, ?, ?, 30, ?, ?, ?)`);
  const now = Date.now();
  sqlite.transaction(() => {
    for (let i = 0; i < count; i++) {
      const issued = now - Math.floor((i / count) * DAY_MS) - 1000;
      const ttft = 80 + (i % 17) * 12;
      const state = i % 50 === 0 ? 'error' : 'success';
      insert.run(
        `seed-${i}`,
        `agent-${(i % 2) + 1}`,
        DEMO_MODEL,
        state,
        issued,
        issued + 300_000,
        issued + 10_000,
        issued + 5,
        issued + ttft + 400,
        32,
        ttft,
        ttft + 400,
      );
    }
  })();
  sqlite.close();
}

async function signIn(page: Page, url: string) {
  await page.goto(`${url}/dashboard`);
  // From the second round on the tab's session storage still holds the key.
  await page.locator('#login:not([hidden]), #board:not([hidden])').waitFor();
  if (await page.isVisible('#login')) {
    await page.fill('#admin-key', ADMIN_KEY);
    await page.click('#login button[type=submit]');
  }
  await page.locator('#fleet tr[data-key="agent-2"]').waitFor({ timeout: 60_000 });
}

interface Phase {
  round: number;
  page: 'closed' | 'open';
  seconds: number;
  cpuSeconds: number;
  dashboardRequests: number;
}

if (!existsSync(CHROMIUM_BIN)) {
  console.error(
    `no Chromium at ${CHROMIUM_BIN}: run scripts/ensure-chromium.sh or set CHROMIUM_BIN`,
  );
  process.exit(1);
}
const dataDir = await mkdtemp(join(tmpdir(), 'titan-dashboard-bench-'));
seed(dataDir, seededTickets);
const [cpPort, a1, a2] = await Promise.all([freePort(), freePort(), freePort()]);
const cluster = await startCluster({
  cpPort,
  agentPorts: [a1, a2],
  dataDir,
  joinToken: 'bench-join-token',
  cpEnv: { ADMIN_KEY },
});
const browser = await chromium.launch({
  executablePath: CHROMIUM_BIN,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const phases: Phase[] = [];
/** Requests the open page made, per endpoint, and the CPU ms each costs in a burst. */
const pageRequests: Record<string, number> = {};
const cpuMsPerRequest: Record<string, number> = {};
try {
  const pid = cluster.controlPlane.child.pid;
  if (pid === undefined) throw new Error('the control plane has no pid');
  for (let i = 0; i < 3; i++) {
    await streamChat(cluster.url, {
      model: DEMO_MODEL,
      messages: [{ role: 'user', content: 'Say hello.' }],
      max_tokens: 16,
    });
  }
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  let dashboardRequests = 0;
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (!path.startsWith('/admin/dashboard/')) return;
    dashboardRequests++;
    const endpoint = path.slice('/admin/dashboard/'.length);
    pageRequests[endpoint] = (pageRequests[endpoint] ?? 0) + 1;
  });
  const measure = async (round: number, open: boolean) => {
    if (open) await signIn(page, cluster.url);
    else await page.goto('about:blank');
    const requestsBefore = dashboardRequests;
    const cpuBefore = cpuSeconds(pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    phases.push({
      round,
      page: open ? 'open' : 'closed',
      seconds: (performance.now() - t0) / 1000,
      cpuSeconds: cpuSeconds(pid) - cpuBefore,
      dashboardRequests: dashboardRequests - requestsBefore,
    });
  };
  for (let round = 1; round <= rounds; round++) {
    await measure(round, false);
    await measure(round, true);
  }
  // Each endpoint alone, `burst` requests back to back with no page open: CPU per request (the
  // heartbeats' background, about 1/60 of the burst's length, included).
  await page.goto('about:blank');
  for (const endpoint of ENDPOINTS) {
    const url = `${cluster.url}/admin/dashboard/${endpoint}`;
    const headers = { authorization: `Bearer ${ADMIN_KEY}` };
    const before = cpuSeconds(pid);
    for (let i = 0; i < burst; i++) {
      const res = await fetch(url, { headers });
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      await res.arrayBuffer();
    }
    cpuMsPerRequest[endpoint] = ((cpuSeconds(pid) - before) * 1000) / burst;
  }
} finally {
  await browser.close();
  await cluster.stop();
  await rm(dataDir, { recursive: true, force: true });
}

const perMinute = (p: Phase) => (p.cpuSeconds * 60) / p.seconds;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const closed = mean(phases.filter((p) => p.page === 'closed').map(perMinute));
const open = mean(phases.filter((p) => p.page === 'open').map(perMinute));
const polls = mean(
  phases.filter((p) => p.page === 'open').map((p) => (p.dashboardRequests * 60) / p.seconds),
);
console.log(
  `${seededTickets} tickets seeded over the last 24 h; ${seconds} s per phase, ${rounds} rounds.\n`,
);
console.log(
  '| round | dashboard page | CPU s per minute (control plane) | dashboard requests per minute |',
);
console.log('|---|---|---|---|');
for (const p of phases) {
  console.log(
    `| ${p.round} | ${p.page} | ${perMinute(p).toFixed(2)} | ${((p.dashboardRequests * 60) / p.seconds).toFixed(0)} |`,
  );
}
console.log(
  `\nMean: ${closed.toFixed(2)} CPU s/min without the page, ${open.toFixed(2)} with it open: ` +
    `the page costs ${(open - closed).toFixed(2)} CPU s per minute (${(((open - closed) / 60) * 100).toFixed(1)} % of one core), ` +
    `${polls > 0 ? (((open - closed) * 1000) / polls).toFixed(1) : '—'} ms of CPU per data request.`,
);
const openSeconds = phases.filter((p) => p.page === 'open').reduce((n, p) => n + p.seconds, 0);
console.log(
  `\n| endpoint | CPU ms per request (${burst} back to back) | requests per minute from the open page | CPU s per minute |`,
);
console.log('|---|---|---|---|');
let expected = 0;
for (const endpoint of ENDPOINTS) {
  const ms = cpuMsPerRequest[endpoint] ?? 0;
  const rate = ((pageRequests[endpoint] ?? 0) * 60) / Math.max(1, openSeconds);
  expected += (ms * rate) / 1000;
  console.log(
    `| ${endpoint} | ${ms.toFixed(2)} | ${rate.toFixed(1)} | ${((ms * rate) / 1000).toFixed(3)} |`,
  );
}
console.log(`\nFrom the bursts: the open page costs ${expected.toFixed(3)} CPU s per minute.`);
if (values.json) {
  await writeFile(
    values.json,
    JSON.stringify(
      {
        seededTickets,
        seconds,
        rounds,
        phases,
        closed,
        open,
        burst,
        cpuMsPerRequest,
        pageRequests,
      },
      null,
      2,
    ),
  );
}
process.exit(0);
