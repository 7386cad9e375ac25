// Embedded llama.cpp engine (node-llama-cpp 3): one model, one context, a sequence per job.
import { availableParallelism } from 'node:os';
import {
  type ChatHistoryItem,
  type ChatWrapper,
  getLlama,
  type Llama,
  LlamaChat,
  LlamaCompletion,
  type LlamaContext,
  LlamaLogLevel,
  type LlamaModel,
  resolveChatWrapper,
} from 'node-llama-cpp';
import type { AgentModel } from '../../protocol/agent-api.ts';
import { AsyncQueue } from './async-queue.ts';
import {
  type ChatMessage,
  type DoneChunk,
  EngineError,
  type GenerateChunk,
  type GenerateOptions,
  type GenerateRequest,
  type InferenceEngine,
  toEngineError,
} from './engine.ts';

export interface LlamaCppEngineOptions {
  modelPath: string;
  /** Name clients use for the model, e.g. `smollm2:135m`. */
  modelName: string;
  /** Parallel sequences in the context; one per concurrent job. */
  sequences: number;
  /** Tokens of context per sequence (default 2048). */
  contextSizePerSequence?: number;
  /** CPU threads (default: the number of cores; more only contend on a small host). */
  threads?: number;
  /** `false` forces the CPU build; default `'auto'`. */
  gpu?: 'auto' | false;
  /** Shares one Llama between engines (the model manager); close() then leaves it open. */
  llama?: Llama;
}

/** Defaults that apply when a request sets no sampling options (Ollama's defaults). */
const DEFAULT_SAMPLING = { temperature: 0.8, topK: 40, topP: 0.9 } as const;

type StopReason = 'eogToken' | 'stopGenerationTrigger' | 'functionCalls' | 'maxTokens' | 'abort';

export class LlamaCppEngine implements InferenceEngine {
  readonly kind = 'llama-cpp';

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly modelName: string,
    /** Resolved once from the GGUF: resolving per request costs ~300 ms. */
    private readonly chatWrapper: ChatWrapper,
    private readonly ownsLlama: boolean,
  ) {}

  /** Loads the model from disk; never builds or downloads llama.cpp binaries. */
  static async create(options: LlamaCppEngineOptions): Promise<LlamaCppEngine> {
    const threads = options.threads ?? availableParallelism();
    const llama =
      options.llama ??
      (await getLlama({
        gpu: options.gpu ?? 'auto',
        build: 'never',
        skipDownload: true,
        progressLogs: false,
        logLevel: LlamaLogLevel.error,
        maxThreads: threads,
      }));
    let model: LlamaModel | undefined;
    try {
      model = await llama.loadModel({ modelPath: options.modelPath });
      const context = await model.createContext({
        sequences: options.sequences,
        contextSize: options.contextSizePerSequence ?? 2048,
        threads,
      });
      const chatWrapper = resolveChatWrapper(model);
      return new LlamaCppEngine(
        llama,
        model,
        context,
        options.modelName,
        chatWrapper,
        !options.llama,
      );
    } catch (err) {
      // A shared Llama stays up: free only what this call loaded.
      if (options.llama) await model?.dispose();
      else await llama.dispose();
      throw err;
    }
  }

  /** Tokens of context each sequence has. */
  get contextSize(): number {
    return this.context.contextSize;
  }

  async listModels(): Promise<AgentModel[]> {
    return [
      { name: this.modelName, loaded: true, memoryBytes: this.model.size + this.context.stateSize },
    ];
  }

  generate(req: GenerateRequest, opts: GenerateOptions): AsyncIterable<GenerateChunk> {
    return this.run(req, opts.signal);
  }

  private async *run(req: GenerateRequest, outer: AbortSignal): AsyncGenerator<GenerateChunk> {
    if (req.model !== this.modelName) {
      throw new EngineError('model_not_found', `model '${req.model}' is not loaded here`);
    }
    if (this.context.sequencesLeft === 0) {
      throw new EngineError('engine_unavailable', 'no free context sequence');
    }
    // Aborts when the caller's signal does, or when the consumer stops iterating early.
    const local = new AbortController();
    const signal = AbortSignal.any([outer, local.signal]);
    const sequence = this.context.getSequence();
    const queue = new AsyncQueue<GenerateChunk>();
    let running: Promise<void> | undefined;
    try {
      let completionTokens = 0;
      const history = req.messages ? toChatHistory(req.messages) : undefined;
      const chat = history
        ? new LlamaChat({ contextSequence: sequence, chatWrapper: this.chatWrapper })
        : undefined;
      const promptTokens = chat
        ? this.chatWrapper
            .generateContextState({ chatHistory: history ?? [] })
            .contextText.tokenize(this.model.tokenizer).length
        : this.model.tokenize(req.prompt ?? '').length;
      const room = this.contextSize - promptTokens;
      if (room <= 0) {
        throw new EngineError(
          'invalid_request',
          `prompt is ${promptTokens} tokens; the context holds ${this.contextSize}`,
        );
      }
      const options = {
        signal,
        stopOnAbortSignal: true,
        maxTokens: Math.min(req.maxTokens ?? room, room),
        temperature: req.temperature ?? DEFAULT_SAMPLING.temperature,
        topK: req.topK ?? DEFAULT_SAMPLING.topK,
        topP: req.topP ?? DEFAULT_SAMPLING.topP,
        ...(req.seed !== undefined ? { seed: req.seed } : {}),
        ...(req.stop?.length ? { customStopTriggers: req.stop } : {}),
        onTextChunk: (text: string) => {
          if (text) queue.push({ type: 'token', text });
        },
        onToken: (tokens: readonly unknown[]) => {
          completionTokens += tokens.length;
        },
      };
      const generation: Promise<StopReason | 'customStopTrigger'> = chat
        ? chat.generateResponse(history ?? [], options).then((r) => r.metadata.stopReason)
        : new LlamaCompletion({ contextSequence: sequence })
            .generateCompletionWithMeta(req.prompt ?? '', options)
            .then((r) => r.metadata.stopReason);
      running = generation.then(
        (stopReason) => {
          if (stopReason === 'abort' || signal.aborted) {
            queue.fail(new EngineError('aborted', 'generation aborted'));
            return;
          }
          const done: DoneChunk = {
            type: 'done',
            finishReason: stopReason === 'maxTokens' ? 'length' : 'stop',
            promptTokens,
            completionTokens,
          };
          queue.push(done);
          queue.end();
        },
        (err: unknown) => queue.fail(toEngineError(err, signal)),
      );
      for await (const chunk of queue) yield chunk;
    } finally {
      local.abort();
      await running;
      await sequence.dispose();
    }
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
    if (this.ownsLlama) await this.llama.dispose();
  }
}

/** OpenAI/Ollama messages to node-llama-cpp chat history (consecutive assistant turns merge). */
export function toChatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  for (const message of messages) {
    if (message.role === 'system') history.push({ type: 'system', text: message.content });
    else if (message.role === 'user') history.push({ type: 'user', text: message.content });
    else history.push({ type: 'model', response: [message.content] });
  }
  // A trailing user turn needs an empty model turn to answer into; a trailing model turn is
  // continued (prefill).
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
  return history;
}
