// ENGINE=llama-server: the agent runs llama.cpp's own server as a supervised child on a private
// loopback port and serves through the OpenAI-upstream code (tools, json_schema, logprobs as
// ENGINE=openai). A llama.cpp crash kills the child, not the agent (ADR 0019). Embeddings come from
// a second child started on the first embeddings request: llama-server started with `--embeddings`
// serves nothing else, and one without it refuses embeddings.
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

/** The embeddings child: one slot, mean pooling (the embedded engine's kind of sentence vector). */
export const EMBEDDING_ARGS = ['--embeddings', '--pooling', 'mean'];

/** An upstream client that follows a managed child's port (a restart picks a new one). */
class ChildClient {
  private upstream: OpenAIUpstreamEngine | undefined;
  private url = '';

  constructor(
    private readonly server: ManagedLlamaServer,
    private readonly o: LlamaServerEngineOptions,
  ) {}

  get(): OpenAIUpstreamEngine {
    if (!this.server.healthy) {
      throw new EngineError('engine_unavailable', 'llama-server is restarting');
    }
    if (!this.upstream || this.url !== this.server.url) {
      this.url = this.server.url;
      this.upstream = new OpenAIUpstreamEngine({
        baseUrl: this.url,
        models: [this.o.args.modelName],
        ...(this.o.fetch ? { fetch: this.o.fetch } : {}),
      });
    }
    return this.upstream;
  }
}

export class LlamaServerEngine implements InferenceEngine {
  readonly kind = 'llama-server';
  readonly server: ManagedLlamaServer;
  private readonly main: ChildClient;
  /** Started by the first embeddings request; undefined until then. */
  private embedder: Promise<ChildClient> | undefined;
  private embedServer: ManagedLlamaServer | undefined;

  private constructor(private readonly o: LlamaServerEngineOptions) {
    this.server = new ManagedLlamaServer(o);
    this.main = new ChildClient(this.server, o);
  }

  /** Starts llama-server with the model and waits until it is healthy (the model is loaded). */
  static async create(o: LlamaServerEngineOptions): Promise<LlamaServerEngine> {
    const engine = new LlamaServerEngine(o);
    await engine.server.start();
    return engine;
  }

  private client(): OpenAIUpstreamEngine {
    return this.main.get();
  }

  /** The embeddings child, started once (concurrent first requests wait for the same start). */
  private embeddings(): Promise<ChildClient> {
    this.embedder ??= (async () => {
      const server = new ManagedLlamaServer({
        ...this.o,
        args: {
          ...this.o.args,
          slots: 1,
          extraArgs: [...(this.o.args.extraArgs ?? []), ...EMBEDDING_ARGS],
        },
      });
      this.embedServer = server;
      await server.start();
      return new ChildClient(server, this.o);
    })().catch((err: unknown) => {
      this.embedder = undefined; // the next request tries again
      throw err;
    });
    return this.embedder;
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

  async embed(req: EmbedRequest, opts: GenerateOptions): Promise<EmbedResult> {
    return (await this.embeddings()).get().embed(req, opts);
  }

  async close(): Promise<void> {
    await Promise.all([this.server.close(), this.embedServer?.close()]);
  }
}
