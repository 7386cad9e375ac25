// Engine load from a Prometheus text exposition (vLLM and llama-server `/metrics`).
import type { EngineLoad } from '../../protocol/agent-api.ts';

/** Sums every sample of each metric name (all label sets), ignoring comments and bad lines. */
export function parsePrometheusText(text: string): Map<string, number> {
  const totals = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    // name{labels} value [timestamp]  — label values may contain spaces, so cut at the brace.
    const brace = line.indexOf('{');
    let name: string;
    let rest: string;
    if (brace >= 0) {
      const close = line.lastIndexOf('}');
      if (close < brace) continue;
      name = line.slice(0, brace);
      rest = line.slice(close + 1).trim();
    } else {
      const space = line.search(/\s/);
      if (space < 0) continue;
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    const value = Number(rest.split(/\s+/)[0]);
    if (!name || !Number.isFinite(value)) continue;
    totals.set(name, (totals.get(name) ?? 0) + value);
  }
  return totals;
}

/** Which metric feeds which field; the first name present wins. */
const SOURCES: Record<keyof EngineLoad, string[]> = {
  running: ['vllm:num_requests_running', 'llamacpp:requests_processing', 'sglang:num_running_reqs'],
  waiting: ['vllm:num_requests_waiting', 'llamacpp:requests_deferred', 'sglang:num_queue_reqs'],
  kvCacheUsage: [
    'vllm:kv_cache_usage_perc',
    'vllm:gpu_cache_usage_perc',
    'llamacpp:kv_cache_usage_ratio',
    'sglang:token_usage',
  ],
};

/** The engine load a `/metrics` page describes, or undefined when it names none of ours. */
export function engineLoadFromMetrics(text: string): EngineLoad | undefined {
  const metrics = parsePrometheusText(text);
  const load: EngineLoad = {};
  for (const [field, names] of Object.entries(SOURCES) as [keyof EngineLoad, string[]][]) {
    const name = names.find((n) => metrics.has(n));
    if (name === undefined) continue;
    const value = metrics.get(name) ?? 0;
    load[field] = field === 'kvCacheUsage' ? Math.min(1, Math.max(0, value)) : Math.max(0, value);
  }
  return Object.keys(load).length > 0 ? load : undefined;
}
