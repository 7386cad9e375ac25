// The last hour as three uPlot charts: requests per second by outcome, TTFT p50/p95, tokens/s.
import uPlot from 'uplot';
import { OUTCOMES, type SeriesResponse } from '../core/dashboard/types.ts';
import { $ } from './dom.ts';

const COLORS: Record<string, string> = {
  success: '#1a7f37',
  error: '#cf222e',
  cancelled: '#8250df',
  rejected: '#bc4c00',
  expired: '#6e7781',
  lost: '#a40e26',
  open: '#0969da',
};

const line = (label: string, stroke: string): uPlot.Series => ({
  label,
  stroke,
  width: 2,
  // A minute with traffic between quiet ones is a single point: draw it.
  points: { show: true, size: 4 },
});

const clock = (seconds: number) =>
  new Date(seconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

function sizeOf(container: HTMLElement) {
  return { width: Math.max(260, container.clientWidth), height: 180 };
}

function chart(id: string, series: uPlot.Series[]) {
  const container = $(id);
  const empty: uPlot.AlignedData = [[], ...series.map(() => [])];
  const plot = new uPlot(
    {
      ...sizeOf(container),
      series: [{}, ...series],
      axes: [{ space: 70, values: (_u, splits) => splits.map(clock) }, { size: 50 }],
      // From zero up to a little above the highest value (0 to 1 while all is quiet).
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
      legend: { live: false },
    },
    empty,
    container,
  );
  new ResizeObserver(() => plot.setSize(sizeOf(container))).observe(container);
  return plot;
}

export class Charts {
  private readonly requests = chart(
    'chart-requests',
    OUTCOMES.map((o) => line(o, COLORS[o] ?? '#888')),
  );
  private readonly ttft = chart('chart-ttft', [line('p50', '#0969da'), line('p95', '#cf222e')]);
  private readonly tokens = chart('chart-tokens', [line('tokens/s', '#1a7f37')]);

  update(s: SeriesResponse): void {
    this.requests.setData([s.times, ...OUTCOMES.map((o) => s.requestsPerSecond[o] ?? [])]);
    this.ttft.setData([s.times, s.ttftP50Ms, s.ttftP95Ms]);
    this.tokens.setData([s.times, s.tokensPerSecond]);
  }
}
