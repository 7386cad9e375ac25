// Decision latency on Node + SQLite: registry read + MCDA decision + slot reservation + ticket row,
// at 10 / 100 / 1,000 / 10,000 registered agents. Run: npx tsx bench/scheduler-latency.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../control-plane/core/config.ts';
import { parseDuration } from '../control-plane/core/config-values.ts';
import type { Deps } from '../control-plane/core/deps.ts';
import { finishTicket } from '../control-plane/core/registry.ts';
import { routeRequest } from '../control-plane/core/routing.ts';
import { silentLogger, systemClock } from '../control-plane/core/runtime.ts';
import { mcdaPolicy } from '../control-plane/core/scheduler/index.ts';
import type { TicketSigner } from '../control-plane/core/tickets.ts';
import { ViewCache } from '../control-plane/core/view-cache.ts';
import { openSqlite } from '../control-plane/node/sqlite.ts';
import { summarize, table } from './stats.ts';

const MODEL = 'smollm2:135m';
const GiB = 2 ** 30;
/** Signing is measured on its own (bench/tickets.ts); here it would only add a constant. */
const unsignedTickets: TicketSigner = {
  alg: 'RS256',
  kid: 'bench',
  sign: async () => 'unsigned',
  jwks: () => ({ keys: [] }),
};

export async function benchSchedulerLatency(sizes = [10, 100, 1_000, 10_000]) {
  const out: string[] = [];
  for (const cacheTtl of ['1s', '0s'])
    out.push(
      `VIEW_CACHE_TTL=${cacheTtl}${cacheTtl === '1s' ? ' (default)' : ' (every decision reads the database)'}`,
      '',
      await run(sizes, cacheTtl),
      '',
    );
  return out.join('\n');
}

async function run(sizes: number[], cacheTtl: string) {
  const rows: (string | number)[][] = [];
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'titan-bench-'));
    const { store, sqlite } = openSqlite(join(dir, 'cp.db'));
    const now = Date.now();
    sqlite.exec('BEGIN');
    for (let i = 0; i < n; i++) {
      await store.agents.register(
        {
          id: `agent-${i}`,
          url: `http://10.0.${i >> 8}.${i & 255}:8081`,
          engine: 'llama-cpp',
          version: 'bench',
          maxJobs: 8,
          models: [{ name: MODEL, loaded: i % 3 !== 0, memoryBytes: 4 * GiB }],
          stats: {
            cpuCores: 16,
            cpuLoadPercent: 20,
            memoryTotalBytes: 128 * GiB,
            memoryFreeBytes: 64 * GiB,
            gpus: [
              {
                index: 0,
                name: 'H100',
                memoryTotalBytes: 80 * GiB,
                memoryFreeBytes: (10 + (i % 60)) * GiB,
              },
            ],
          },
        },
        now,
      );
    }
    sqlite.exec('COMMIT');
    const deps: Deps = {
      store,
      clock: systemClock,
      signer: unsignedTickets,
      // Registration of 10,000 agents takes a while; keep them all live for the measurement.
      config: loadConfig({ HEARTBEAT_TIMEOUT: '1h', VIEW_CACHE_TTL: cacheTtl }),
      scheduler: mcdaPolicy(),
      views: new ViewCache(parseDuration(cacheTtl, 0)),
      log: silentLogger,
    };
    const iterations = n >= 10_000 ? 300 : 2_000;
    const samples: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < iterations + 50; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const d = await routeRequest(deps, {
        model: MODEL,
        maxTokens: 256,
        client: 'bench',
        ticketTtlMs: 60_000,
      });
      const dt = performance.now() - t0;
      const dc = process.cpuUsage(c0);
      if (i >= 50) {
        samples.push(dt);
        cpu.push((dc.user + dc.system) / 1000);
      }
      await finishTicket(
        store,
        d.agent.id,
        d.jti,
        {
          outcome: 'success',
          model: MODEL,
          promptTokens: 1,
          completionTokens: 10,
          durationMs: 100,
        },
        Date.now(),
      );
      deps.views?.adjustSlots(d.agent.id, -1);
    }
    const s = summarize(samples);
    const c = summarize(cpu);
    rows.push([
      n.toLocaleString('en'),
      s.n,
      s.p50.toFixed(3),
      s.p99.toFixed(3),
      s.max.toFixed(3),
      c.p50.toFixed(3),
      c.p99.toFixed(3),
    ]);
    sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return table(
    [
      'agents',
      'decisions',
      'wall p50 ms',
      'wall p99 ms',
      'wall max ms',
      'CPU p50 ms',
      'CPU p99 ms',
    ],
    rows,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchSchedulerLatency());
}
