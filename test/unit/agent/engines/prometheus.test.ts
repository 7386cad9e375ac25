// Engine load from /metrics pages as vLLM and llama-server print them.
import { describe, expect, it } from 'vitest';
import {
  engineLoadFromMetrics,
  parsePrometheusText,
} from '../../../../agent/engines/prometheus.ts';

const VLLM = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-8B"} 3.0
vllm:num_requests_running{engine="1",model_name="Qwen/Qwen3-8B"} 2.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen3-8B"} 7.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen3-8B"} 0.4375
vllm:prompt_tokens_total{model_name="a b} c"} 1.2e+05
`;

const LLAMA_SERVER = `# HELP llamacpp:requests_processing Number of requests processing.
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 2
# HELP llamacpp:requests_deferred Number of requests deferred.
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 1
llamacpp:kv_cache_usage_ratio 0.25
`;

describe('Prometheus text', () => {
  it('sums samples across label sets, tolerating braces and spaces in label values', () => {
    const m = parsePrometheusText(VLLM);
    expect(m.get('vllm:num_requests_running')).toBe(5);
    expect(m.get('vllm:prompt_tokens_total')).toBe(120000);
    expect(parsePrometheusText('garbage\nx{ 1\nok 2 1700000000\n').get('ok')).toBe(2);
  });

  it('reads vLLM running, waiting and KV-cache use', () => {
    expect(engineLoadFromMetrics(VLLM)).toEqual({ running: 5, waiting: 7, kvCacheUsage: 0.4375 });
  });

  it('reads llama-server processing and deferred requests', () => {
    expect(engineLoadFromMetrics(LLAMA_SERVER)).toEqual({
      running: 2,
      waiting: 1,
      kvCacheUsage: 0.25,
    });
  });

  it('is undefined for a page with none of our metrics', () => {
    expect(engineLoadFromMetrics('process_cpu_seconds_total 12\n')).toBeUndefined();
  });
});
