// The fleet, recent requests and recent route decisions as tables.

import type { FleetAgent, RequestRow } from '../core/dashboard/types.ts';
import type { RecordedDecision } from '../core/scoreboard.ts';
import { $, badge, el, fmt, replaceRows, row } from './dom.ts';

const table = (id: string) => $(id) as HTMLTableElement;

function modelCell(a: FleetAgent) {
  const list = el('ul', null, 'plain');
  for (const m of a.models) {
    const li = el('li', m.name);
    if (m.quantization) li.append(' ', el('code', m.quantization, 'quant'));
    if (!m.loaded) li.append(el('span', ' (not loaded)', 'note'));
    list.append(li);
  }
  return list;
}

export function renderFleet(agents: FleetAgent[]) {
  const t = table('fleet');
  const rows = agents.map((a) =>
    row(
      t,
      [
        el('span', a.id, 'id'),
        badge(a.state, 'state'),
        badge(a.breaker, 'breaker'),
        `${a.slots.leased} / ${a.slots.confirmed} / ${a.slots.max}`,
        modelCell(a),
        fmt.rate(a.tokensPerSecond),
        `${fmt.bytes(a.memory.freeBytes)} / ${fmt.bytes(a.memory.totalBytes)} (${a.memory.accelerator})`,
        fmt.ago(a.lastHeartbeatAgoMs),
      ],
      a.id,
    ),
  );
  replaceRows(t, rows, 'No agent has registered.');
}

export function renderRequests(requests: RequestRow[], open: (r: RequestRow) => void) {
  const t = table('requests');
  const rows = requests.map((r) => {
    const id = el('button', r.id, 'link id');
    id.type = 'button';
    id.addEventListener('click', () => open(r));
    const tokens = `${r.promptTokens ?? '—'} / ${r.completionTokens ?? '—'}`;
    return row(
      t,
      [
        fmt.time(r.issuedAt),
        id,
        r.agentId,
        r.model,
        badge(r.state, 'state'),
        fmt.ms(r.ttftMs),
        fmt.ms(r.durationMs),
        tokens,
        r.error ?? '',
      ],
      r.id,
    );
  });
  replaceRows(t, rows, 'No request yet.');
}

export function renderDecisions(decisions: RecordedDecision[]) {
  const t = table('decisions');
  const rows = decisions.map((d) => {
    const ranked = el('ul', null, 'plain');
    for (const r of d.ranked) {
      const parts = Object.entries(r.components).map(([k, v]) => `${k} ${v}`);
      ranked.append(el('li', `${r.agentId}: ${r.score.toFixed(3)} (${parts.join(', ')})`));
    }
    const excluded = el('ul', null, 'plain');
    for (const e of d.excluded) excluded.append(el('li', `${e.agentId}: ${e.reason}`));
    return row(t, [
      fmt.time(new Date(d.at).toISOString()),
      el('span', d.requestId ?? '—', 'id'),
      d.model,
      d.chosen ?? 'none (no agent available)',
      ranked,
      excluded,
    ]);
  });
  replaceRows(t, rows, 'No decision since this control plane started.');
}
