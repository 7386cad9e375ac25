// Writes a small SVG line chart (p95 TTFT against load, one line per policy).
export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd'];

export function lineChartSvg(
  title: string,
  xLabel: string,
  yLabel: string,
  series: Series[],
): string {
  const W = 640;
  const H = 400;
  const m = { l: 70, r: 150, t: 40, b: 50 };
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const yMax = Math.max(...ys) * 1.1 || 1;
  // Log scale on y: p95 TTFT spans milliseconds to minutes across policies.
  const yMin = Math.max(1, Math.min(...ys) / 2);
  const r1 = (v: number) => Math.round(v * 10) / 10;
  const sx = (x: number) => r1(m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r));
  const sy = (y: number) =>
    r1(
      H -
        m.b -
        ((Math.log10(Math.max(y, yMin)) - Math.log10(yMin)) /
          (Math.log10(yMax) - Math.log10(yMin))) *
          (H - m.t - m.b),
    );
  const ticks: number[] = [];
  for (let v = 10 ** Math.ceil(Math.log10(yMin)); v <= yMax; v *= 10) ticks.push(v);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<title>${title}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="10" y="22" font-size="14">${title}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
    `<text x="${(W - m.r + m.l) / 2 - 40}" y="${H - 12}">${xLabel}</text>`,
    `<text transform="translate(16 ${H / 2 + 40}) rotate(-90)">${yLabel}</text>`,
  ];
  for (const v of ticks) {
    out.push(`<line x1="${m.l - 4}" y1="${sy(v)}" x2="${W - m.r}" y2="${sy(v)}" stroke="#ddd"/>`);
    out.push(
      `<text x="${m.l - 8}" y="${sy(v) + 4}" text-anchor="end">${v >= 1000 ? `${v / 1000} s` : `${v} ms`}</text>`,
    );
  }
  for (const x of [...new Set(xs)])
    out.push(
      `<text x="${sx(x)}" y="${H - m.b + 18}" text-anchor="middle">${Math.round(x * 100)}%</text>`,
    );
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    out.push(
      `<polyline fill="none" stroke="${c}" stroke-width="2" points="${s.points.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' ')}"/>`,
    );
    for (const p of s.points)
      out.push(`<circle cx="${sx(p.x)}" cy="${sy(p.y)}" r="3" fill="${c}"/>`);
    out.push(`<text x="${W - m.r + 12}" y="${m.t + 20 * i + 10}" fill="${c}">${s.name}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
