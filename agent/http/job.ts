// One ticketed inference: admission (ticket, body, slot) and an engine run that reports once.
import type { Context } from 'hono';
import type { JobOutcome, JobReport, TicketClaims } from '../../protocol/agent-api.ts';
import { TICKET_QUERY_PARAM } from '../../protocol/agent-api.ts';
import { bearerToken } from '../../protocol/bearer.ts';
import { requestedMaxTokens } from '../../protocol/inference.ts';
import { digestOfBody, extendDigest, type PrefixEntry } from '../../protocol/prefix-digest.ts';
import {
  type DoneChunk,
  EngineError,
  type GenerateRequest,
  type InferenceEngine,
  type LogprobEntry,
  type ToolCall,
  toEngineError,
} from '../engines/engine.ts';
import { ToolCallAssembler } from '../engines/tool-calls.ts';
import type { Job, JobTracker } from '../jobs.ts';
import type { AgentMetrics } from '../metrics.ts';
import type { PrefixRecord } from '../prefix-record.ts';
import type { ReplayGuard, TicketVerifier } from '../tickets.ts';
import type { AccessLog, Ending } from './access.ts';
import { type ChoiceChunk, generateChoices, totalOf } from './choices.ts';
import { AgentHttpError, toHttpError } from './errors.ts';

/** Invalid byte sequences are refused, not silently replaced with U+FFFD. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Sends a job report to the control plane in the background; the promise (if any) settles when
 * it was delivered or given up. A finished job waits for it (at most REPORT_WAIT_MS) before its
 * final chunk leaves, so the client's next request finds the slot free.
 */
export type JobReporter = (jti: string, report: JobReport) => void | Promise<void>;

/** Longest a finished job holds its final chunk back for the report's delivery. */
export const REPORT_WAIT_MS = 1000;

/** Waits for a job report's delivery, at most REPORT_WAIT_MS; a failed delivery is not an error. */
export async function awaitReport(delivered: void | Promise<void>): Promise<void> {
  if (!delivered) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    delivered.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, REPORT_WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * The control plane's answer to "this agent admitted ticket jti" (its slot lease): `refused` stops
 * the job; `unconfirmed` (no answer in time, not registered) lets it run on the agent's own word.
 */
export type Admission = 'admitted' | 'refused' | 'unconfirmed';
export type AdmissionConfirmer = (jti: string) => Promise<Admission>;

export interface JobDeps {
  engine: InferenceEngine;
  tickets: TicketVerifier;
  replay: ReplayGuard;
  jobs: JobTracker;
  reportJob: JobReporter;
  confirmAdmission: AdmissionConfirmer;
  now: () => number;
  /** A streamed write the client does not take within this long drops the stream. */
  stallTimeoutMs: number;
  access: AccessLog;
  /** TTFT and inter-token latency of each answer (absent: not measured). */
  metrics?: AgentMetrics | undefined;
  /** What the engine holds, kept up to date by each finished job (absent: not recorded). */
  prefixes?: PrefixRecord | undefined;
}

/** The prefix digest of each admitted body, by its slot, for the job that runs it. */
const digests = new WeakMap<Job, PrefixEntry[]>();

/**
 * Ends a job: its access line, then its report to the control plane (which carries the reason).
 * Every admitted request ends here exactly once.
 */
export function endJob(
  deps: Pick<JobDeps, 'access' | 'reportJob'>,
  jti: string,
  report: JobReport,
  ending: Ending,
): void | Promise<void> {
  const full: JobReport = { ...report, reason: ending.reason };
  deps.access.end(jti, full, ending);
  return deps.reportJob(jti, full);
}

/** The ticket from `?ticket=` (preferred: it survives redirects) or `Authorization: Bearer`. */
export function ticketFrom(c: Context): string | undefined {
  const fromQuery = c.req.query(TICKET_QUERY_PARAM);
  if (fromQuery) return fromQuery;
  return bearerToken(c.req.header('authorization'));
}

/** An admitted request: its ticket, body and slot, and the control plane's answer to come. */
export interface Admitted<T = unknown> {
  claims: TicketClaims;
  body: T;
  slot: Job;
  /** Asks the control plane (once; later calls return the same answer). Never rejects. */
  admission: () => Promise<Admission>;
}

/** Why a job stops when the control plane refuses its ticket's slot lease (a 409). */
const REFUSED =
  'the control plane refused this ticket (unknown, already closed, or not used within its claim window and its slot given away); route the request again';

/**
 * Checks ticket, body and capacity, and asks the control plane to confirm the slot lease:
 * `admission`, not awaited here (an inference job waits for it alongside its engine's first chunk,
 * so the round trip adds nothing to the time to first token). Once the ticket is accepted it is
 * consumed, and any later refusal is reported to the control plane as `rejected` so it can release
 * the slot it reserved. `choicesOf` reads the answers the dialect asks for (OpenAI `n`; else one).
 */
export async function admitRequest<T extends { model: string }>(
  c: Context,
  deps: JobDeps,
  parse: (body: unknown) => T,
  choicesOf: (body: T) => number = () => 1,
): Promise<Admitted<T>> {
  const token = ticketFrom(c);
  let claims: TicketClaims;
  try {
    if (!token) throw new AgentHttpError('ticket_missing', 'this endpoint requires a ticket');
    claims = await deps.tickets.verify(token);
  } catch (err) {
    deps.access.refused(c, toHttpError(err));
    throw err;
  }
  if (!deps.replay.consume(claims.jti, claims.exp)) {
    const err = new AgentHttpError('ticket_replayed', 'ticket was already used');
    deps.access.refused(c, err, claims);
    throw err;
  }
  deps.access.begin(c, claims);
  const startedAt = deps.now();
  try {
    if (deps.jobs.draining) {
      throw new AgentHttpError('agent_draining', 'agent is shutting down');
    }
    // Over the app's body limit (agent/app.ts), this read fails with payload_too_large.
    const bytes = await c.req.arrayBuffer();
    let text: string;
    try {
      text = STRICT_UTF8.decode(bytes);
    } catch {
      throw new AgentHttpError('invalid_json', 'request body is not valid UTF-8');
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new AgentHttpError('invalid_json', 'request body is not valid JSON');
    }
    const body = parse(raw);
    const digest = deps.prefixes ? await digestOfBody(body) : undefined;
    if (body.model !== claims.model) {
      throw new AgentHttpError(
        'ticket_model_mismatch',
        `ticket is for model '${claims.model}', not '${body.model}'`,
        { param: 'model' },
      );
    }
    // n choices may each take max_tokens: the ticket allows their sum (control-plane/core/validation).
    const asked = requestedMaxTokens(body);
    const n = choicesOf(body);
    if (asked !== undefined && asked * n > claims.max_tokens) {
      const what = n > 1 ? `${n} × ${asked}` : `${asked}`;
      throw new AgentHttpError(
        'ticket_max_tokens_exceeded',
        `request asks for ${what} tokens; the ticket allows at most ${claims.max_tokens}`,
        { param: 'max_tokens' },
      );
    }
    // Waits in the bounded queue when every slot is busy; refused when the queue is full too.
    const slot = await deps.jobs.acquire(claims.jti, body.model, c.req.raw.signal);
    if (!slot) {
      if (deps.jobs.draining) throw new AgentHttpError('agent_draining', 'agent is shutting down');
      if (c.req.raw.signal.aborted) {
        throw new AgentHttpError('request_cancelled', 'client went away while queued');
      }
      throw new AgentHttpError(
        'agent_busy',
        `agent is at capacity (${deps.jobs.capacity} jobs in flight, ${deps.jobs.queued} queued)`,
      );
    }
    // The control plane confirms the slot lease it issued with the ticket, or refuses it; asked
    // when the caller is ready (an inference job: once its engine request is on its way). A
    // confirmer that throws counts as no answer.
    let question: Promise<Admission> | undefined;
    const { jti } = claims;
    const admission = () =>
      (question ??= deps.confirmAdmission(jti).catch((): Admission => 'unconfirmed'));
    if (digest) digests.set(slot, digest);
    return { claims, body, slot, admission };
  } catch (err) {
    rejectConsumed(deps, claims, startedAt, err);
    throw err;
  }
}

/** admitRequest, then the control plane's answer (confirmed). */
export async function admit<T extends { model: string }>(
  c: Context,
  deps: JobDeps,
  parse: (body: unknown) => T,
  choicesOf: (body: T) => number = () => 1,
): Promise<{ claims: TicketClaims; body: T; slot: Job }> {
  const { admission, ...admitted } = await admitRequest(c, deps, parse, choicesOf);
  await confirmed(deps, { ...admitted, admission });
  return admitted;
}

/** Waits for the control plane's answer; a refusal frees the slot and throws a 409. */
export async function confirmed(deps: JobDeps, admitted: Admitted): Promise<void> {
  if ((await admitted.admission()) !== 'refused') return;
  deps.jobs.release(admitted.slot);
  const err = new AgentHttpError('ticket_refused', REFUSED);
  rejectConsumed(deps, admitted.claims, admitted.slot.startedAt, err);
  throw err;
}

/** Ends a job whose ticket was consumed but which will not run: `rejected`, with its status. */
function rejectConsumed(deps: JobDeps, claims: TicketClaims, startedAt: number, err: unknown) {
  const message = err instanceof Error ? err.message : String(err);
  const refusal = toHttpError(err);
  endJob(
    deps,
    claims.jti,
    {
      outcome: 'rejected',
      model: claims.model,
      promptTokens: 0,
      completionTokens: 0,
      durationMs: Math.max(0, deps.now() - startedAt),
      error: message.slice(0, 2000),
    },
    { status: refusal.status, reason: refusal.code },
  );
}

/** One choice of a finished non-streamed answer. */
export interface Answer {
  text: string;
  toolCalls: ToolCall[];
  logprobs: LogprobEntry[];
  done: DoneChunk;
}

/**
 * An admitted job's engine run (one per choice, agent/http/choices.ts): releases its slot and
 * reports exactly once.
 */
export class InferenceJob {
  readonly createdSec: number;
  private readonly controller = new AbortController();
  private readonly detach: () => void;
  private iterator: AsyncIterator<ChoiceChunk> | undefined;
  private pending: ChoiceChunk | undefined;
  private ttftMs: number | undefined;
  private lastTokenAt: number | undefined;
  private tokens = 0;
  /** The current choice's answer as the client receives it: the next turn's assistant message. */
  private answer = '';
  private calls = new ToolCallAssembler();
  /** The choice whose chunks came last. */
  private choice = 0;
  /** Each finished choice's final chunk, in order. */
  private readonly finished: DoneChunk[] = [];
  /** What the engine holds once this job is done, for its report. */
  private held: string[] | undefined;
  /** Set once every choice is done: the request's usage (totalOf). */
  private done: DoneChunk | undefined;
  private settled = false;
  /** Set by collect(): the answer is one JSON body, so a failure still gets its own status. */
  private collecting = false;
  /** The engine's first chunk is in: a streamed answer's 200 is on its way. */
  private started = false;
  /** True once the client went away (or the caller cancelled): outcome `cancelled`. */
  cancelled = false;
  /** Set when the control plane refused the ticket's slot lease: outcome `rejected`, a 409. */
  private refusal: AgentHttpError | undefined;
  /** The request as run: never more tokens per choice than the ticket allows them together. */
  readonly request: GenerateRequest;
  /** The number of choices (OpenAI `n`). */
  readonly choices: number;

  readonly claims: TicketClaims;
  private readonly slot: Job;
  /** admitRequest's: asked once the engine's request is on its way, awaited with its first chunk. */
  private readonly admission: () => Promise<Admission>;

  constructor(
    private readonly deps: JobDeps,
    admitted: Pick<Admitted, 'claims' | 'slot' | 'admission'>,
    request: GenerateRequest,
    clientSignal: AbortSignal,
  ) {
    const { claims, slot } = admitted;
    this.claims = claims;
    this.slot = slot;
    this.admission = admitted.admission;
    this.choices = request.n ?? 1;
    const limit = Math.max(1, Math.floor(claims.max_tokens / this.choices));
    this.request = { ...request, maxTokens: Math.min(request.maxTokens ?? limit, limit) };
    this.createdSec = Math.floor(slot.startedAt / 1000);
    const onAbort = () => this.cancel();
    clientSignal.addEventListener('abort', onAbort, { once: true });
    this.detach = () => clientSignal.removeEventListener('abort', onAbort);
    if (clientSignal.aborted) this.cancel();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get startedAt(): number {
    return this.slot.startedAt;
  }

  get timeToFirstTokenMs(): number | undefined {
    return this.ttftMs;
  }

  /** The whole request's usage once every choice is done (the prompt counted once). */
  get total(): DoneChunk | undefined {
    return this.done;
  }

  /** Stops the generation because the client went away; the job is reported as cancelled. */
  cancel(): void {
    this.cancelled = true;
    this.stopEngine();
  }

  private stopEngine(): void {
    if (!this.controller.signal.aborted) this.controller.abort();
  }

  /**
   * Starts the engine and waits for its first chunk and for the control plane's admission, so
   * early failures and a refused ticket still get a status. A refusal stops the engine at once.
   */
  async start(): Promise<void> {
    let refused: Promise<boolean> = Promise.resolve(false);
    try {
      this.iterator = generateChoices(this.deps.engine, this.request, { signal: this.signal });
      // The engine's request goes out first (next() runs it up to its first wait), then the question.
      const firstChunk = this.iterator.next();
      refused = this.admission().then((a) => a === 'refused');
      void refused.then((no) => no && this.stopEngine());
      const first = await firstChunk;
      if (await refused) throw new AgentHttpError('ticket_refused', REFUSED);
      if (first.done) throw new EngineError('stream_incomplete', 'engine produced no output');
      this.record(first.value);
      this.pending = first.value;
      this.started = true;
    } catch (err) {
      if (await refused) {
        this.refusal = new AgentHttpError('ticket_refused', REFUSED);
        // The engine's cleanup (its context sequence) finishes before the slot is released.
        await this.iterator?.return?.().catch(() => undefined);
        this.settle(undefined);
        throw this.refusal;
      }
      const failure = toEngineError(err, this.signal);
      this.settle(failure);
      throw failure;
    }
  }

  /**
   * Every chunk of every choice, each choice ending with its `done`; the last `done` ends the
   * request (then `total` is set). Throws an EngineError if the engine fails.
   */
  async *chunks(): AsyncGenerator<ChoiceChunk> {
    let failure: EngineError | undefined;
    const iterator = this.iterator;
    try {
      if (!iterator) throw new EngineError('engine_failure', 'job was not started');
      const first = this.pending;
      this.pending = undefined;
      if (first) {
        if (this.done) await this.finish(iterator);
        yield first;
        if (this.done) return;
      }
      while (true) {
        const next = await iterator.next();
        if (next.done) {
          throw new EngineError('stream_incomplete', 'engine stream ended without a final message');
        }
        this.record(next.value);
        if (this.done) {
          await this.finish(iterator);
          yield next.value;
          return;
        }
        yield next.value;
      }
    } catch (err) {
      failure = toEngineError(err, this.signal);
      throw failure;
    } finally {
      if (!this.done) this.stopEngine();
      // Always close the engine's iterator, even after `done`: its cleanup (freeing the context
      // sequence) runs only then, and must finish before the slot is released.
      await iterator?.return?.().catch(() => undefined);
      this.settle(failure);
    }
  }

  /**
   * Runs to completion (non-streaming responses): each choice's whole text, calls and logprobs,
   * in order, and the request's usage.
   */
  async collect(): Promise<{ answers: Answer[]; done: DoneChunk }> {
    this.collecting = true;
    const answers: Answer[] = [];
    let text = '';
    let calls = new ToolCallAssembler();
    let logprobs: LogprobEntry[] = [];
    for await (const chunk of this.chunks()) {
      if (chunk.type === 'token') {
        text += chunk.text;
        if (chunk.logprobs) logprobs.push(...chunk.logprobs);
      } else if (chunk.type === 'tool_call') calls.add(chunk);
      else {
        answers.push({ text, toolCalls: calls.calls(), logprobs, done: chunk });
        if (this.done) return { answers, done: this.done };
        text = '';
        calls = new ToolCallAssembler();
        logprobs = [];
      }
    }
    throw new EngineError('stream_incomplete', 'engine stream ended without a final message');
  }

  private record(chunk: ChoiceChunk): void {
    if (chunk.choice !== this.choice) {
      // A new choice: what the engine will hold is the prompt and this choice's answer.
      this.choice = chunk.choice;
      this.answer = '';
      this.calls = new ToolCallAssembler();
    }
    if (chunk.type === 'token') {
      const at = this.deps.now();
      this.tokens++;
      this.answer += chunk.text;
      if (this.ttftMs === undefined) {
        this.ttftMs = Math.max(0, at - this.slot.startedAt);
        this.deps.metrics?.firstToken(this.request.model, this.ttftMs);
      } else if (this.lastTokenAt !== undefined) {
        this.deps.metrics?.betweenTokens(this.request.model, Math.max(0, at - this.lastTokenAt));
      }
      this.lastTokenAt = at;
    } else if (chunk.type === 'tool_call') {
      this.calls.add(chunk);
    } else if (chunk.type === 'done') {
      this.finished.push(chunk);
      if (this.finished.length === this.choices) this.done = totalOf(this.finished);
    }
  }

  /**
   * The engine is done: free the slot and report, the job's last acts, before the final chunk
   * leaves; a closed-loop client's next request then never races the report (docs/adr/0009).
   */
  private async finish(iterator: AsyncIterator<ChoiceChunk>): Promise<void> {
    // Its cleanup (freeing the context sequence) must finish before the slot is released.
    await iterator.return?.().catch(() => undefined);
    // A digest that cannot be computed costs affinity, never the job: the slot is released below.
    this.held = await this.recordHeld().catch(() => undefined);
    await awaitReport(this.settle(undefined));
  }

  /**
   * The engine now holds the prompt and the answer: the digest of the conversation's next turn up
   * to this answer. Recorded for heartbeats; returned for the job report.
   */
  private async recordHeld(): Promise<string[] | undefined> {
    const prompt = digests.get(this.slot);
    const { prefixes } = this.deps;
    if (!prompt || !prefixes || !this.done) return undefined;
    const calls = this.calls.calls();
    const answer = {
      role: 'assistant',
      content: this.answer,
      ...(calls.length
        ? { tool_calls: calls.map((c) => ({ function: { name: c.name, arguments: c.arguments } })) }
        : {}),
    };
    prefixes.record(await extendDigest(prompt, [answer]), this.done.sequence);
    return prefixes.held();
  }

  private settle(failure: EngineError | undefined): void | Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.detach();
    this.deps.jobs.release(this.slot);
    let outcome: JobOutcome = 'success';
    if (this.refusal) outcome = 'rejected';
    else if (!this.done) {
      const cancelled = !failure || failure.code === 'aborted' || this.cancelled;
      // A request the engine refuses (unknown model, prompt too long) is the client's fault.
      const refused = failure?.code === 'model_not_found' || failure?.code === 'invalid_request';
      outcome = cancelled ? 'cancelled' : refused ? 'rejected' : 'error';
    }
    const report: JobReport = {
      outcome,
      model: this.request.model,
      promptTokens: this.done?.promptTokens ?? 0,
      completionTokens: this.done?.completionTokens ?? this.tokens,
      durationMs: Math.max(0, this.deps.now() - this.slot.startedAt),
    };
    if (this.done?.cachedPromptTokens !== undefined)
      report.cachedPromptTokens = this.done.cachedPromptTokens;
    if (this.held) report.prefixes = this.held;
    if (this.ttftMs !== undefined) report.ttftMs = this.ttftMs;
    const error = this.refusal ?? failure;
    if (outcome !== 'success' && outcome !== 'cancelled' && error)
      report.error = error.message.slice(0, 2000);
    return endJob(this.deps, this.claims.jti, report, this.ending(outcome, failure));
  }

  /** What the client saw: a stream under way answered 200, whatever came after. */
  private ending(outcome: JobOutcome, failure: EngineError | undefined): Ending {
    if (this.done) return { status: 200, reason: this.done.finishReason };
    if (this.refusal) return { status: 409, reason: this.refusal.code };
    const error = toHttpError(
      outcome === 'cancelled'
        ? new AgentHttpError('request_cancelled', 'client went away')
        : failure,
    );
    const streaming = this.started && !this.collecting;
    return { status: streaming ? 200 : error.status, reason: error.code };
  }
}
