// Embedded llama.cpp engine (node-llama-cpp 3): one model, one context, a sequence per job,
// decoded together in one batch per step (node-llama-cpp batches across a context's sequences).
import { availableParallelism } from 'node:os';
import {
  type ChatWrapper,
  type GbnfJsonSchema,
  GgufFileType,
  getLlama,
  type Llama,
  LlamaChat,
  LlamaCompletion,
  type LlamaContext,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  LlamaLogLevel,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
} from 'node-llama-cpp';
import type { AgentModel } from '../../protocol/agent-api.ts';
import { AsyncQueue } from './async-queue.ts';
import {
  type DoneChunk,
  type EmbedRequest,
  type EmbedResult,
  EngineError,
  type FinishReason,
  type GenerateChunk,
  type GenerateOptions,
  type GenerateRequest,
  type InferenceEngine,
  type ResponseFormat,
  toEngineError,
} from './engine.ts';
import { toGrammarSchema } from './json-schema.ts';
import { generateWithLogprobs } from './llama-logprobs.ts';
import { parseForcedCall, toChatHistory, toolModeOf } from './llama-tools.ts';
import { SequencePool } from './sequence-pool.ts';
import { newToolCallId } from './tool-calls.ts';

export interface LlamaCppEngineOptions {
  modelPath: string;
  /** Name clients use for the model, e.g. `smollm2:135m`. */
  modelName: string;
  /**
   * Sequences in the context: one per concurrent job, and any beyond `slots` kept idle as prompt
   * cache (their KV cache is reused by the next prompt that shares their prefix).
   */
  sequences: number;
  /** Jobs at once (default `sequences`). */
  slots?: number;
  /** Tokens of context per sequence (default 2048). */
  contextSizePerSequence?: number;
  /** CPU threads (default: the number of cores; more only contend on a small host). */
  threads?: number;
  /** `false` forces the CPU build; default `'auto'`. */
  gpu?: 'auto' | false;
  /** Shares one Llama between engines (the model manager); close() then leaves it open. */
  llama?: Llama;
  /** Tokens decoded per llama.cpp batch across all sequences (default 512). */
  batchSize?: number;
  /** Default `'auto'` (used when the model and backend support it). */
  flashAttention?: 'auto' | boolean;
}

/** Defaults that apply when a request sets no sampling options (Ollama's defaults). */
const DEFAULT_SAMPLING = { temperature: 0.8, topK: 40, topP: 0.9 } as const;

/**
 * Characters one prompt token can stand for, at most, in the vocabularies we serve (BPE and
 * SentencePiece tokens of common GGUF models are far shorter; long whitespace runs included).
 * A prompt longer than this many characters per context token cannot fit, whatever it says.
 */
export const MAX_CHARS_PER_TOKEN = 32;

/**
 * Refuses a prompt that cannot fit the context before it is tokenised: tokenising is synchronous
 * in node-llama-cpp, so a 6 MiB prompt stalled the agent's event loop (/healthz included).
 */
export function assertPromptChars(req: GenerateRequest, contextSize: number): void {
  const chars = req.messages
    ? req.messages.reduce(
        (n, m) =>
          n + m.content.length + (m.toolCalls ?? []).reduce((k, c) => k + c.arguments.length, 0),
        0,
      )
    : (req.prompt ?? '').length;
  const limit = contextSize * MAX_CHARS_PER_TOKEN;
  if (chars > limit) {
    throw new EngineError(
      'invalid_request',
      `prompt is ${chars} characters; a context of ${contextSize} tokens holds at most ${limit}`,
    );
  }
}

/**
 * A GGUF's `general.file_type` as llama.cpp names the quantization: 3 is `Q4_1`, 15 `Q4_K_M`, 0
 * `F32` (node-llama-cpp's GgufFileType names, less their MOSTLY_/ALL_ prefix).
 */
export function quantizationOf(fileType: number | undefined): string | undefined {
  if (fileType === undefined) return undefined;
  return GgufFileType[fileType]?.replace(/^(MOSTLY|ALL)_/, '');
}

type StopReason = 'eogToken' | 'stopGenerationTrigger' | 'functionCalls' | 'maxTokens' | 'abort';

/** A call the model made: function name and JSON arguments. */
type Call = { name: string; arguments: string };

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
    private readonly threads: number,
    private readonly slots: number,
  ) {
    this.pool = new SequencePool(context, slots < context.totalSequences);
  }

  private readonly pool: SequencePool;
  /** Created on the first embedding request; one sequence, requests take turns. */
  private embedding: Promise<LlamaEmbeddingContext> | undefined;

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
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
        flashAttention: options.flashAttention ?? 'auto',
        // One decode per event-loop cycle with every queued sequence's next token in it. On a
        // 2-core CPU at one thread a batch of eight costs about eight single decodes
        // (docs/benchmarks.md, "Engines"); a GPU decodes a batch for little more than one token.
        // node-llama-cpp 3.21.1's CPU build sometimes gave a sequence another's text in such
        // decodes (agent/README.md, "Cross-talk in batched decoding"); 3.22.1 did not in 30 batches.
        batching: {
          dispatchSchedule: 'nextCycle',
          itemPrioritizationStrategy: 'maximumParallelism',
        },
      });
      // The model's own Jinja chat template, as llama-server applies it, so that a request is the
      // same prompt tokens on every engine; node-llama-cpp's built-in wrapper for the family when
      // the GGUF has no template (or one it cannot render). Answers keep their leading
      // whitespace, as llama-server's do: a continued answer (assistant prefill, a resumed
      // stream) must go on with exactly the text the uninterrupted answer had.
      const chatWrapper = resolveChatWrapper(model, {
        type: 'jinjaTemplate',
        customWrapperSettings: { jinjaTemplate: { trimLeadingWhitespaceInResponses: false } },
      });
      return new LlamaCppEngine(
        llama,
        model,
        context,
        options.modelName,
        chatWrapper,
        !options.llama,
        threads,
        Math.min(options.slots ?? options.sequences, options.sequences),
      );
    } catch (err) {
      // A shared Llama stays up: free only what this call loaded.
      if (options.llama) await model?.dispose();
      else await llama.dispose();
      throw err;
    }
  }

  /** Jobs the context runs at once (its other sequences are prompt cache). */
  get capacity(): number {
    return this.slots;
  }

  /** Sequences in the context: the slots and the idle ones kept as prompt cache. */
  get cachedSequences(): number {
    return this.context.totalSequences;
  }

  /** Sequences running a job right now. */
  get sequencesInUse(): number {
    return this.pool.inUse;
  }

  /** Tokens of context each sequence has. */
  get contextSize(): number {
    return this.context.contextSize;
  }

  async listModels(): Promise<AgentModel[]> {
    const quantization = quantizationOf(this.model.fileInfo.metadata?.general?.file_type);
    return [
      {
        name: this.modelName,
        loaded: true,
        memoryBytes: this.model.size + this.context.stateSize,
        ...(quantization ? { quantization } : {}),
      },
    ];
  }

  generate(req: GenerateRequest, opts: GenerateOptions): AsyncIterable<GenerateChunk> {
    return this.run(req, opts.signal);
  }

  private async *run(req: GenerateRequest, outer: AbortSignal): AsyncGenerator<GenerateChunk> {
    if (req.model !== this.modelName) {
      throw new EngineError('model_not_found', `model '${req.model}' is not loaded here`);
    }
    // First, and before a sequence is taken (no await may come between the check and acquire
    // below): an unsupported schema is a 400, never an unconstrained answer.
    const tools = req.messages ? toolModeOf(req) : ({ kind: 'none' } as const);
    if (req.logprobs !== undefined && tools.kind !== 'none') {
      throw new EngineError(
        'invalid_request',
        'logprobs: the embedded engine does not report log probabilities of tool calls',
      );
    }
    const grammar =
      tools.kind === 'forced'
        ? await this.grammarFor({ type: 'json_schema', schema: tools.schema })
        : req.format
          ? await this.grammarFor(req.format)
          : undefined;
    // A conversation whose calls and results do not pair up is a 400 too.
    const history = req.messages ? toChatHistory(req.messages) : undefined;
    if (this.pool.available === 0) {
      throw new EngineError('engine_unavailable', 'no free context sequence');
    }
    // Aborts when the caller's signal does, or when the consumer stops iterating early.
    const local = new AbortController();
    const signal = AbortSignal.any([outer, local.signal]);
    assertPromptChars(req, this.contextSize);
    // Tools are described in the prompt (the template's own way, or node-llama-cpp's generic one).
    const promptTokenList: Token[] = history
      ? this.chatWrapper
          .generateContextState({
            chatHistory: history,
            ...(tools.kind === 'none'
              ? {}
              : { availableFunctions: tools.functions, documentFunctionParams: true }),
          })
          .contextText.tokenize(this.model.tokenizer)
      : this.model.tokenize(req.prompt ?? '');
    const promptTokens = promptTokenList.length;
    const { sequence, reusable } = this.pool.acquire(promptTokenList);
    const queue = new AsyncQueue<GenerateChunk>();
    let running: Promise<void> | undefined;
    let healthy = true;
    let chat: LlamaChat | undefined;
    let completion: LlamaCompletion | undefined;
    try {
      let completionTokens = 0;
      const room = this.contextSize - promptTokens;
      if (room <= 0) {
        throw new EngineError(
          'invalid_request',
          `prompt is ${promptTokens} tokens; the context holds ${this.contextSize}`,
        );
      }
      // A forced call's JSON is the call, not answer text: held back and parsed at the end.
      let forcedText = '';
      const options = {
        signal,
        stopOnAbortSignal: true,
        maxTokens: Math.min(req.maxTokens ?? room, room),
        temperature: req.temperature ?? DEFAULT_SAMPLING.temperature,
        topK: req.topK ?? DEFAULT_SAMPLING.topK,
        topP: req.topP ?? DEFAULT_SAMPLING.topP,
        ...(req.minP !== undefined ? { minP: req.minP } : {}),
        ...repeatPenalty(req),
        ...(req.seed !== undefined ? { seed: req.seed } : {}),
        // A forced call ends where its grammar does; a stop sequence must not cut its JSON.
        ...(req.stop?.length && tools.kind !== 'forced' ? { customStopTriggers: req.stop } : {}),
        ...(grammar ? { grammar } : {}),
        onTextChunk: (text: string) => {
          if (tools.kind === 'forced') forcedText += text;
          else if (text) queue.push({ type: 'token', text });
        },
        onToken: (tokens: readonly unknown[]) => {
          completionTokens += tokens.length;
        },
      };
      const logprobs =
        req.logprobs !== undefined
          ? generateWithLogprobs({
              sequence,
              model: this.model,
              prompt: promptTokenList,
              maxTokens: options.maxTokens,
              top: req.logprobs,
              stop: req.stop ?? [],
              ...(grammar ? { grammar } : {}),
              temperature: options.temperature,
              topK: options.topK,
              topP: options.topP,
              ...(req.minP !== undefined ? { minP: req.minP } : {}),
              ...(req.seed !== undefined ? { seed: req.seed } : {}),
              ...repeatPenalty(req),
              signal,
              onPiece: (text, entries) => queue.push({ type: 'token', text, logprobs: entries }),
            }).then((r) => {
              completionTokens = r.completionTokens;
              return { stopReason: r.stopReason, calls: [] };
            })
          : undefined;
      // Neither LlamaChat nor LlamaCompletion reports probabilities: such answers are sampled
      // token by token above.
      if (!logprobs && history && tools.kind !== 'forced')
        chat = new LlamaChat({ contextSequence: sequence, chatWrapper: this.chatWrapper });
      else if (!logprobs) completion = new LlamaCompletion({ contextSequence: sequence });
      type Outcome = { stopReason: StopReason | 'customStopTrigger'; calls: Call[] };
      const responding =
        chat && tools.kind === 'auto'
          ? chat.generateResponse(history ?? [], {
              ...options,
              grammar: undefined,
              functions: tools.functions,
              documentFunctionParams: true,
              ...(req.parallelToolCalls === false ? { maxParallelFunctionCalls: 1 } : {}),
            })
          : chat?.generateResponse(history ?? [], options);
      const generation: Promise<Outcome> = logprobs
        ? logprobs
        : responding
          ? responding.then((r) => ({
              stopReason: r.metadata.stopReason,
              calls: (r.functionCalls ?? []).map((c) => ({
                name: c.functionName,
                arguments: JSON.stringify(c.params ?? {}),
              })),
            }))
          : (completion as LlamaCompletion)
              .generateCompletionWithMeta(history ? promptTokenList : (req.prompt ?? ''), options)
              .then((r) => {
                if (tools.kind !== 'forced')
                  return { stopReason: r.metadata.stopReason, calls: [] };
                const call = parseForcedCall(forcedText);
                if (!call && r.metadata.stopReason !== 'maxTokens' && !signal.aborted) {
                  throw new EngineError('engine_failure', 'the forced tool call did not parse');
                }
                return { stopReason: r.metadata.stopReason, calls: call ? [call] : [] };
              });
      running = generation.then(
        ({ stopReason, calls }) => {
          if (stopReason === 'abort' || signal.aborted) {
            queue.fail(new EngineError('aborted', 'generation aborted'));
            return;
          }
          for (const [index, call] of calls.entries()) {
            queue.push({ type: 'tool_call', index, id: newToolCallId(), ...call });
          }
          let finishReason: FinishReason = stopReason === 'maxTokens' ? 'length' : 'stop';
          if (calls.length) finishReason = 'tool_calls';
          const done: DoneChunk = {
            type: 'done',
            finishReason,
            promptTokens,
            completionTokens,
            // node-llama-cpp always decodes the last prompt token again.
            cachedPromptTokens: Math.max(0, Math.min(reusable, promptTokens - 1)),
            sequence: this.pool.idOf(sequence),
          };
          queue.push(done);
          queue.end();
        },
        (err: unknown) => {
          healthy = signal.aborted;
          queue.fail(toEngineError(err, signal));
        },
      );
      for await (const chunk of queue) yield chunk;
    } catch (err) {
      if (!(err instanceof EngineError) || err.code !== 'aborted') healthy = false;
      throw err;
    } finally {
      local.abort();
      await running;
      chat?.dispose({ disposeSequence: false });
      completion?.dispose({ disposeSequence: false });
      // Kept, not disposed: its KV cache serves the next prompt with the same prefix.
      await this.pool.release(sequence, healthy);
    }
  }

  /** A grammar that only admits JSON (matching the schema, when there is one). */
  private async grammarFor(format: ResponseFormat): Promise<LlamaGrammar> {
    if (format.type === 'json') return this.llama.getGrammarFor('json');
    const schema = toGrammarSchema(format.schema);
    try {
      return await this.llama.createGrammarForJsonSchema<GbnfJsonSchema>(schema);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new EngineError('invalid_request', `unsupported JSON schema: ${message}`, {
        cause: err,
      });
    }
  }

  /**
   * One vector per input from the model's embedding output (llama.cpp's pooling for the model;
   * a chat model like the demo one gives usable but not retrieval-trained vectors).
   */
  async embed(req: EmbedRequest, opts: GenerateOptions): Promise<EmbedResult> {
    if (req.model !== this.modelName) {
      throw new EngineError('model_not_found', `model '${req.model}' is not loaded here`);
    }
    const size = this.model.embeddingVectorSize;
    if (req.dimensions !== undefined && req.dimensions !== size) {
      throw new EngineError(
        'invalid_request',
        `dimensions: this model's embeddings have ${size} dimensions`,
      );
    }
    this.embedding ??= this.model.createEmbeddingContext({
      contextSize: this.contextSize,
      threads: this.threads,
    });
    const context = await this.embedding;
    const embeddings: number[][] = [];
    let promptTokens = 0;
    for (const [i, text] of req.input.entries()) {
      if (opts.signal.aborted) throw new EngineError('aborted', 'embedding aborted');
      const tokens = context.calculateInputLength(text);
      if (tokens >= this.contextSize) {
        throw new EngineError(
          'invalid_request',
          `input[${i}] is ${tokens} tokens; the context holds ${this.contextSize}`,
        );
      }
      promptTokens += tokens;
      embeddings.push([...(await context.getEmbeddingFor(text)).vector]);
    }
    return { embeddings, promptTokens };
  }

  async close(): Promise<void> {
    if (this.embedding) await (await this.embedding.catch(() => undefined))?.dispose();
    await this.context.dispose();
    await this.model.dispose();
    if (this.ownsLlama) await this.llama.dispose();
  }
}

/** node-llama-cpp's repeat penalty from llama.cpp/Ollama and OpenAI-style fields. */
function repeatPenalty(req: GenerateRequest): {
  repeatPenalty?: { penalty?: number; frequencyPenalty?: number; presencePenalty?: number };
} {
  const { repeatPenalty: penalty, frequencyPenalty, presencePenalty } = req;
  if (penalty === undefined && frequencyPenalty === undefined && presencePenalty === undefined) {
    return {};
  }
  return {
    repeatPenalty: {
      ...(penalty !== undefined ? { penalty } : {}),
      ...(frequencyPenalty !== undefined ? { frequencyPenalty } : {}),
      ...(presencePenalty !== undefined ? { presencePenalty } : {}),
    },
  };
}
