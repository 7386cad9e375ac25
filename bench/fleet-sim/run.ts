// Fleet simulation: MCDA against round-robin, random, least-loaded and power-of-two choices at 50%,
// 80% and 95% of capacity. Run: npx tsx bench/fleet-sim/run.ts (writes docs/fleet-sim.svg)
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  leastLoadedPolicy,
  powerOfTwoPolicy,
  randomPolicy,
  roundRobinPolicy,
} from '../../control-plane/core/scheduler/baselines.ts';
import { mcdaPolicy } from '../../control-plane/core/scheduler/mcda.ts';
import type { Policy } from '../../control-plane/core/scheduler/types.ts';
import { table } from '../stats.ts';
import { capacityRps, fleet } from './fleet.ts';
import { lineChartSvg } from './plot.ts';
import { poissonArrivals, rng, type SimResult, simulate } from './sim.ts';

const LOADS = [0.5, 0.8, 0.95];
const DURATION_MS = 300_000;
const WARMUP_MS = 30_000;
const SEED = 42;

function policies(seed: number): Policy[] {
  return [
    mcdaPolicy({ random: rng(seed) }),
    roundRobinPolicy(),
    randomPolicy(rng(seed + 1)),
    leastLoadedPolicy(rng(seed + 2)),
    powerOfTwoPolicy(rng(seed + 3)),
  ];
}

function ms(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v)) : 'never (failed)';
}

export async function benchFleetSim(): Promise<string> {
  const full = fleet();
  const parts: string[] = [];
  for (const [label, specs, svgName] of [
    ['A. full fleet, one agent too small to hold the model', full, 'fleet-sim.svg'],
    [
      'B. without the undersized agent (load balancing alone)',
      full.filter((a) => a.id !== 'a1-slow-4'),
      'fleet-sim-b.svg',
    ],
  ] as const) {
    parts.push(`### ${label}`, '', await scenario(specs, svgName, label), '');
  }
  return parts.join('\n');
}

async function scenario(
  specs: ReturnType<typeof fleet>,
  svgName: string,
  label: string,
): Promise<string> {
  // Mean prompt 300 tokens, mean output 175 tokens (uniform 100–500 and 50–300).
  const capacity = capacityRps(specs, 175, 300);
  const results: { load: number; r: SimResult }[] = [];
  for (const load of LOADS) {
    const arrivals = poissonArrivals(capacity * load, DURATION_MS, SEED);
    for (const p of policies(SEED))
      results.push({ load, r: simulate(p, specs, arrivals, WARMUP_MS) });
  }
  const rows = results.map(({ load, r }) => [
    `${Math.round(load * 100)}%`,
    r.policy,
    r.requests,
    r.completed,
    r.failed,
    ms(r.ttftP50),
    ms(r.ttftP95),
    Math.round(r.throughputTps),
    `${(r.goodput * 100).toFixed(1)}%`,
  ]);
  const names = [...new Set(results.map(({ r }) => r.policy))];
  const svg = lineChartSvg(
    `p95 TTFT, ${label.slice(3)}`,
    'offered load (share of capacity)',
    'p95 TTFT (log)',
    names.map((name) => ({
      name,
      points: results
        .filter(({ r }) => r.policy === name)
        // A failed p95 is drawn at the top of the chart (5 minutes).
        .map(({ load, r }) => ({ x: load, y: Math.min(r.ttftP95, 300_000) })),
    })),
  );
  writeFileSync(fileURLToPath(new URL(`../../docs/${svgName}`, import.meta.url)), svg);
  const at80 = results.filter(({ load }) => load === 0.8).map(({ r }) => r);
  const mcda = at80.find((r) => r.policy === 'mcda');
  const rr = at80.find((r) => r.policy === 'round-robin');
  const bestOther = Math.min(...at80.filter((r) => r.policy !== 'mcda').map((r) => r.ttftP95));
  const verdict =
    mcda && rr
      ? `At 80% load MCDA p95 TTFT is ${ms(mcda.ttftP95)} ms against round-robin's ${ms(rr.ttftP95)} and the best other policy's ${ms(bestOther)} (ratio ${(mcda.ttftP95 / bestOther).toFixed(2)}).`
      : '';
  return [
    `Fleet: ${specs.length} agents (speeds 1x/2x/4x), capacity ≈ ${capacity.toFixed(1)} requests/s; ${DURATION_MS / 1000} s of Poisson arrivals per run (first ${WARMUP_MS / 1000} s not counted), seed ${SEED}.`,
    '',
    table(
      [
        'load',
        'policy',
        'requests',
        'completed',
        'failed',
        'TTFT p50 ms',
        'TTFT p95 ms',
        'throughput tok/s',
        'goodput (TTFT<500 ms)',
      ],
      rows,
    ),
    '',
    verdict,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchFleetSim());
}
