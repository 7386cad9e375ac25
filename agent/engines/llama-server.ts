// ENGINE=llama-server: the agent runs llama.cpp's own server as a supervised child on a private
// loopback port and serves through the OpenAI-upstream code (tools, json_schema, logprobs,
// embeddings as ENGINE=openai). A llama.cpp crash kills the child, not the agent (ADR 0019).
import type { AgentModel, EngineLoad } from '../../protocol/agent-api.ts';
import type { Logger } from '../log.ts';
import type {
  EmbedRequest,
  EmbedResult,
  GenerateChunk,
  GenerateOptions,
  GenerateRequest,
  InferenceEngine,
} from './engine.ts';
import { EngineError } from './engine.ts';
import { ManagedLlamaServer, type ManagedServerOptions } from './llama-server-process.ts';
import { OpenAIUpstreamEngine } from './openai-upstream.ts';

export interface LlamaServerEngineOptions extends ManagedServerOptions {
  log: Logger;
}

export class LlamaServerEngine implements InferenceEngine {
  readonly kind = 'llama-server';
  readonly server: ManagedLlamaServer;
  private upstream: OpenAIUpstreamEngine | undefined;
  private upstreamUrl = '';

  private constructor(private readonly o: LlamaServerEngineOptions) {
    this.server = new ManagedLlamaServer(o);
  }

  /** Starts llama-server with the model and waits until it is healthy (the model is loaded). */
  static async create(o: LlamaServerEngineOptions): Promise<LlamaServerEngine> {
    const engine = new LlamaServerEngine(o);
    await engine.server.start();
    return engine;
  }

  /** The upstream client for the child's current port (a restart picks a new one). */
  private client(): OpenAIUpstreamEngine {
    if (!this.server.healthy) {
      throw new EngineError('engine_unavailable', 'llama-server is restarting');
    }
    const url = this.server.url;
    if (!this.upstream || this.upstreamUrl !== url) {
      this.upstreamUrl = url;
      this.upstream = new OpenAIUpstreamEngine({
        baseUrl: url,
        models: [this.o.args.modelName],
        ...(this.o.fetch ? { fetch: this.o.fetch } : {}),
      });
    }
    return this.upstream;
  }

  async listModels(): Promise<AgentModel[]> {
    // The one model it was started with; advertised while it restarts too (requests get 503).
    return [{ name: this.o.args.modelName, loaded: true }];
  }

  async load(): Promise<EngineLoad | undefined> {
    if (!this.server.healthy) return undefined;
    return this.client().load();
  }

  generate(req: GenerateRequest, opts: GenerateOptions): AsyncIterable<GenerateChunk> {
    const self = this;
    return {
      [Symbol.asyncIterator]() {
        return self.client().generate(req, opts)[Symbol.asyncIterator]();
      },
    };
  }

  embed(req: EmbedRequest, opts: GenerateOptions): Promise<EmbedResult> {
    return this.client().embed(req, opts);
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}
