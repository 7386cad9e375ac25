// A complete AgentConfig for tests that start a real agent server, and a fixed stats collector.
import type { AgentConfig } from '../../../agent/config.ts';
import type { StatsCollector } from '../../../agent/stats.ts';

/** Loopback, ephemeral port, no TLS, no engine selection: tests override what they exercise. */
export function testAgentConfig(
  o: Partial<AgentConfig> & Pick<AgentConfig, 'agentId' | 'controlPlaneUrl'>,
): AgentConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    publicUrl: undefined,
    publicHost: '127.0.0.1',
    joinToken: 'join',
    maxConcurrentJobs: 1,
    maxQueue: 8,
    modelPath: 'unused.gguf',
    models: undefined,
    ollamaHost: undefined,
    engine: undefined,
    upstreamUrl: undefined,
    contextSize: undefined,
    threads: undefined,
    logFormat: 'json',
    drainTimeoutMs: 1000,
    tlsCert: undefined,
    tlsKey: undefined,
    controlPlaneCa: undefined,
    ...o,
  };
}

/** Machine stats that never change (no systeminformation, no nvidia-smi). */
export const fixedStats: StatsCollector = {
  collect: async () => ({
    cpuCores: 2,
    cpuLoadPercent: 1,
    memoryTotalBytes: 10,
    memoryFreeBytes: 5,
    gpus: [],
  }),
};
