// The agent's Prometheus metrics (GET /metrics, prom-client), behind METRICS_TOKEN or loopback
// only: per request (TTFT, inter-token latency, tokens, outcome, duration) from the access log
// and the job's token stream; queue, slots and the engine's own load read at scrape time; model
// load and unload times from the model manager (docs/operations.md lists every name).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineLoad, JobReport } from '../protocol/agent-api.ts';

/** Seconds to the first token: a warm GPU is tens of ms, a CPU 135M model hundreds. */
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds between two tokens of one stream. */
const INTER_TOKEN_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Loading a GGUF takes from under a second (135M) to minutes (70B from a slow disk). */
const LOAD_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** What the agent reads at scrape time. */
export interface AgentGauges {
  slots(): { active: number; max: number; queued: number; draining: boolean };
  engineLoad?(): Promise<EngineLoad | undefined>;
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly ttft: Histogram;
  private readonly interToken: Histogram;
  private readonly tokens: Counter;
  private readonly requests: Counter;
  private readonly duration: Histogram;
  private readonly modelLoad: Histogram;
  private readonly modelUnload: Histogram;

  constructor(gauges: AgentGauges) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.ttft = new Histogram({
      name: 'titan_agent_ttft_seconds',
      help: 'Time to first token, from the job taking its slot',
      labelNames: ['model'],
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.interToken = new Histogram({
      name: 'titan_agent_inter_token_seconds',
      help: 'Time between two tokens of one answer',
      labelNames: ['model'],
      buckets: INTER_TOKEN_BUCKETS,
      registers,
    });
    this.tokens = new Counter({
      name: 'titan_agent_tokens_total',
      help: 'Tokens of finished requests (in: prompt, out: completion)',
      labelNames: ['model', 'direction'],
      registers,
    });
    this.requests = new Counter({
      name: 'titan_agent_requests_total',
      help: 'Ticketed requests by outcome and why they ended (finish reason or error code)',
      labelNames: ['model', 'outcome', 'reason'],
      registers,
    });
    this.duration = new Histogram({
      name: 'titan_agent_request_duration_seconds',
      help: 'Admitted requests, from taking a slot to the end',
      labelNames: ['model', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.modelLoad = new Histogram({
      name: 'titan_agent_model_load_seconds',
      help: 'Time to load a model into memory',
      labelNames: ['model'],
      buckets: LOAD_BUCKETS,
      registers,
    });
    this.modelUnload = new Histogram({
      name: 'titan_agent_model_unload_seconds',
      help: 'Time to unload a model',
      labelNames: ['model'],
      buckets: LOAD_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'titan_agent_slots',
      help: 'Job slots: busy (active) and the most (max)',
      labelNames: ['kind'],
      registers,
      collect() {
        const s = gauges.slots();
        this.set({ kind: 'active' }, s.active);
        this.set({ kind: 'max' }, s.max);
      },
    });
    new Gauge({
      name: 'titan_agent_queue_depth',
      help: 'Admitted requests waiting for a slot',
      registers,
      collect() {
        this.set(gauges.slots().queued);
      },
    });
    new Gauge({
      name: 'titan_agent_draining',
      help: '1 while the agent drains (shutting down)',
      registers,
      collect() {
        this.set(gauges.slots().draining ? 1 : 0);
      },
    });
    new Gauge({
      name: 'titan_agent_engine_load',
      help: "The engine's own load (vLLM, llama-server, SGLang /metrics): running, waiting, kv_cache_usage",
      labelNames: ['kind'],
      registers,
      async collect() {
        this.reset();
        const load = await gauges.engineLoad?.().catch(() => undefined);
        if (load?.running !== undefined) this.set({ kind: 'running' }, load.running);
        if (load?.waiting !== undefined) this.set({ kind: 'waiting' }, load.waiting);
        if (load?.kvCacheUsage !== undefined)
          this.set({ kind: 'kv_cache_usage' }, load.kvCacheUsage);
      },
    });
  }

  firstToken(model: string, ms: number): void {
    this.ttft.observe({ model }, ms / 1000);
  }

  betweenTokens(model: string, ms: number): void {
    this.interToken.observe({ model }, ms / 1000);
  }

  /** An admitted request ended (its job report). */
  ended(report: JobReport, reason: string): void {
    const { model, outcome } = report;
    this.requests.inc({ model, outcome, reason });
    this.tokens.inc({ model, direction: 'in' }, report.promptTokens);
    this.tokens.inc({ model, direction: 'out' }, report.completionTokens);
    this.duration.observe({ model, outcome }, report.durationMs / 1000);
  }

  /** A request refused before it became a job (no ticket, a bad or replayed one). */
  refused(model: string | undefined, reason: string): void {
    this.requests.inc({ model: model ?? '', outcome: 'rejected', reason });
  }

  modelLoaded(model: string, seconds: number): void {
    this.modelLoad.observe({ model }, seconds);
  }

  modelUnloaded(model: string, seconds: number): void {
    this.modelUnload.observe({ model }, seconds);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
