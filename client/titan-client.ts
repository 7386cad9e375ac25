// The TitanCompute client (fetch only): route, call the agent, report failures, fail over.
import { type FailureReport, failureReportPath, ROUTE_PATH } from '../protocol/client-api.ts';
import { isOllamaPath } from '../protocol/dialects.ts';
import { ndjsonLines, sseData } from '../protocol/framing.ts';
import { digestOfBody, type PrefixEntry } from '../protocol/prefix-digest.ts';
import { resumePlan } from './resume.ts';
import { TitanError } from './titan-error.ts';
import { errorCode, jtiOf, NOT_AGENT_FAULTS, type Route } from './wire.ts';

export { TitanError, type TitanErrorCode } from './titan-error.ts';

export interface TitanClientOptions {
  /** The control plane, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  fetch?: typeof fetch;
  /** API key for the control plane (sent as a bearer token on /v1/route), if it requires one. */
  apiKey?: string;
  /** Agents tried per request (default 3). */
  maxAttempts?: number;
  /** Until the agent's response headers, which it sends with the first token (default 15 s). */
  firstTokenTimeoutMs?: number;
  /** Longest silence between two chunks of a stream (default 30 s). */
  idleTimeoutMs?: number;
  /** Budget for the whole request, waits included (default 120 s). */
  deadlineMs?: number;
  /** Retry-After from the control plane is honoured up to this (default 10 s). */
  maxRetryAfterMs?: number;
  /** Backoff between attempts: full jitter over min(maxMs, baseMs·2^n) (default 100 ms, 2 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /**
   * Resume a stream that breaks after tokens were sent on another agent, with the text so far as
   * a prefill (default true). Chat and raw-completion APIs only; see client/resume.ts.
   */
  resume?: boolean;
  /** Resumes per stream at most (default 3). */
  maxResumes?: number;
  /** Called when a broken stream is resumed on another agent. */
  onResume?: (info: ResumeInfo) => void;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface ResumeInfo {
  /** The agent whose stream broke. */
  fromAgent: string;
  /** Text-carrying events delivered before the break. */
  textEvents: number;
  message: string;
}

export interface RoutedResponse {
  response: Response;
  agentId: string;
  /** Agents tried, this one included. */
  attempts: number;
}

export class TitanClient {
  private readonly o: Required<Omit<TitanClientOptions, 'fetch' | 'apiKey'>> & {
    fetch: typeof fetch;
    apiKey: string | undefined;
  };

  constructor(opts: TitanClientOptions) {
    this.o = {
      maxAttempts: 3,
      firstTokenTimeoutMs: 15_000,
      idleTimeoutMs: 30_000,
      deadlineMs: 120_000,
      maxRetryAfterMs: 10_000,
      backoffBaseMs: 100,
      backoffMaxMs: 2_000,
      resume: true,
      maxResumes: 3,
      onResume: () => undefined,
      random: Math.random,
      sleep: (ms) => new Promise((ok) => setTimeout(ok, ms)),
      ...opts,
      fetch: opts.fetch ?? ((...a) => fetch(...a)),
      apiKey: opts.apiKey,
      baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    };
  }

  /**
   * Sends `body` to `path` on an agent chosen by the control plane. Connect failures, timeouts and
   * agent 5xx answers are reported and the next agent is tried; 4xx answers are returned as they are.
   */
  async request(
    path: string,
    body: { model: string } & Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<RoutedResponse> {
    const { response, agentId, attempts } = await this.send(
      path,
      body,
      signal,
      [],
      this.deadline(),
    );
    return { response, agentId, attempts };
  }

  /**
   * Streams a completion (OpenAI SSE on /v1/*, Ollama NDJSON on /api/*) and yields each parsed
   * event. A failure before the first event fails over to another agent. A stream that breaks
   * afterwards is reported and, where the API can continue an answer (see `resume`), resumed on
   * another agent from the text so far; otherwise it throws TitanError('stream_broken'), never
   * ends silently.
   */
  async *stream(
    path: string,
    body: { model: string } & Record<string, unknown>,
    signal?: AbortSignal,
  ): AsyncGenerator<Record<string, unknown>> {
    const deadline = this.deadline();
    const tried: string[] = [];
    const plan = this.o.resume ? resumePlan(path, body) : undefined;
    const ndjson = isOllamaPath(path);
    let request: typeof body = { ...body, stream: true };
    let generated = '';
    let textEvents = 0;
    let answered = false;
    let resumes = 0;
    for (;;) {
      const sent = await this.send(path, request, signal, tried, deadline);
      const textBefore = textEvents;
      if (!sent.response.ok) {
        const text = await sent.response.text();
        throw new TitanError('request_rejected', `HTTP ${sent.response.status}: ${text}`, {
          status: sent.response.status,
          agentId: sent.agentId,
        });
      }
      let complete = false;
      let finished = false;
      let idle: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => sent.abort(), this.o.idleTimeoutMs);
      };
      try {
        arm();
        const received = sent.response.body;
        for await (const data of ndjson ? ndjsonLines(received) : sseData(received)) {
          arm();
          if (data === '[DONE]') {
            complete = true;
            return;
          }
          const event = JSON.parse(data) as Record<string, unknown>;
          if (event.error !== undefined) {
            // The agent is alive and said what went wrong (and reports it itself).
            complete = true;
            const e = event.error as { message?: string } | string;
            const msg = typeof e === 'string' ? e : (e.message ?? 'error');
            throw new TitanError('stream_error', msg, { agentId: sent.agentId });
          }
          answered = true;
          const text = plan?.textOf(event) ?? '';
          if (text) {
            generated += text;
            textEvents++;
          }
          if (plan?.finishes(event)) finished = true;
          yield event;
          if (ndjson && event.done === true) {
            complete = true;
            return;
          }
        }
        throw new Error('stream ended before its final event');
      } catch (err) {
        if (err instanceof TitanError || signal?.aborted) throw err;
        const message = err instanceof Error ? err.message : String(err);
        await this.reportFailure(sent.route, { kind: 'stream', message });
        tried.push(sent.agentId);
        // The whole answer arrived; only the end marker (usage, [DONE]) was lost with the agent.
        if (finished) return;
        const next = answered ? plan?.rest(generated, textEvents) : request;
        // A stream that made progress earns a fresh set of attempts (the agent that broke stays
        // excluded): maxAttempts bounds failures in a row, maxResumes the resumes in all.
        const progressed = textEvents > textBefore;
        if (progressed) tried.splice(0, tried.length, sent.agentId);
        const resumable = !answered || resumes < this.o.maxResumes;
        if (!next || !resumable || tried.length >= this.o.maxAttempts) {
          throw new TitanError('stream_broken', `stream from ${sent.agentId} broke: ${message}`, {
            agentId: sent.agentId,
            attempts: tried.length,
          });
        }
        if (answered) {
          resumes++;
          request = { ...next, model: body.model, stream: true };
          this.o.onResume({ fromAgent: sent.agentId, textEvents, message });
        }
        await this.backoff(tried.length, deadline);
      } finally {
        clearTimeout(idle);
        if (!complete) sent.abort();
      }
    }
  }

  private deadline(): number {
    return Date.now() + this.o.deadlineMs;
  }

  /** One request with failover: every agent that fails is added to `tried`. */
  private async send(
    path: string,
    body: Record<string, unknown> & { model: string },
    signal: AbortSignal | undefined,
    tried: string[],
    deadline: number,
  ): Promise<RoutedResponse & { route: Route; abort(): void }> {
    let lastFailure = 'no agent tried';
    // Only the digest goes to the control plane: it routes by cache without seeing the prompt.
    const prefix = await digestOfBody(body);
    while (tried.length < this.o.maxAttempts) {
      const route = await this.route(body.model, [...tried], deadline, signal, prefix);
      const ctl = new AbortController();
      // Streams: the agent sends headers with the first token. Otherwise with the whole answer.
      const headerTimeout = body.stream
        ? this.o.firstTokenTimeoutMs
        : Math.max(1, deadline - Date.now());
      const timer = setTimeout(() => ctl.abort(), headerTimeout);
      const sig = signal ? AbortSignal.any([signal, ctl.signal]) : ctl.signal;
      let failure: FailureReport;
      let agentFault = true;
      try {
        const res = await this.o.fetch(new URL(path, `${route.agent.url}/`), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${route.ticket}` },
          body: JSON.stringify(body),
          signal: sig,
        });
        clearTimeout(timer);
        if (res.ok || (res.status < 500 && res.status !== 429)) {
          const attempts = tried.length + 1;
          return {
            response: res,
            agentId: route.agent.id,
            attempts,
            route,
            abort: () => ctl.abort(),
          };
        }
        const code = await errorCode(res);
        failure = { kind: 'status', status: res.status, ...(code ? { message: code } : {}) };
        agentFault = !(code && NOT_AGENT_FAULTS.has(code));
      } catch (err) {
        clearTimeout(timer);
        if (signal?.aborted) throw err;
        failure = ctl.signal.aborted
          ? { kind: 'timeout', message: `no answer in ${headerTimeout} ms` }
          : { kind: 'connect', message: err instanceof Error ? err.message : String(err) };
      }
      lastFailure = `${route.agent.id}: ${failure.kind} ${failure.status ?? ''} ${failure.message ?? ''}`;
      if (agentFault) await this.reportFailure(route, failure);
      tried.push(route.agent.id);
      if (tried.length < this.o.maxAttempts) await this.backoff(tried.length, deadline);
    }
    throw new TitanError(
      'agents_failed',
      `every agent tried failed (last: ${lastFailure.trim()})`,
      {
        attempts: tried.length,
      },
    );
  }

  private async route(
    model: string,
    exclude: string[],
    deadline: number,
    signal?: AbortSignal,
    prefix?: PrefixEntry[],
  ) {
    for (let wait = 0; ; wait++) {
      let res: Response | undefined;
      try {
        res = await this.o.fetch(`${this.o.baseUrl}${ROUTE_PATH}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {}),
          },
          body: JSON.stringify({ model, exclude, ...(prefix ? { prefix } : {}) }),
          ...(signal ? { signal } : {}),
        });
      } catch (err) {
        if (signal?.aborted) throw err;
        // The control plane is restarting or unreachable: back off and try again.
      }
      if (res?.ok) {
        const r = (await res.json()) as { agent: { id: string; url: string }; ticket: string };
        return { agent: r.agent, ticket: r.ticket, jti: jtiOf(r.ticket) } satisfies Route;
      }
      if (res && res.status !== 503) {
        throw new TitanError(
          'request_rejected',
          `control plane: HTTP ${res.status} ${await res.text()}`,
          {
            status: res.status,
          },
        );
      }
      const retryAfter = Number(res?.headers.get('retry-after') ?? Number.NaN);
      const delay = Number.isFinite(retryAfter)
        ? Math.min(retryAfter * 1000, this.o.maxRetryAfterMs)
        : this.jitter(wait + 1);
      if (Date.now() + delay > deadline) {
        const why = res ? await res.text() : 'control plane unreachable';
        throw new TitanError(
          'no_agent_available',
          `no agent available before the deadline: ${why}`,
          {
            status: res?.status ?? 0,
          },
        );
      }
      await res?.body?.cancel();
      await this.o.sleep(delay);
    }
  }

  private async reportFailure(route: Route, report: FailureReport): Promise<void> {
    const body = JSON.stringify(report);
    await this.o
      .fetch(`${this.o.baseUrl}${failureReportPath(route.jti)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${route.ticket}` },
        body,
        signal: AbortSignal.timeout(5_000),
      })
      .then((r) => r.body?.cancel())
      .catch(() => undefined);
  }

  private jitter(n: number): number {
    return this.o.random() * Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** n);
  }

  private async backoff(n: number, deadline: number): Promise<void> {
    const delay = this.jitter(n);
    if (Date.now() + delay > deadline) {
      throw new TitanError('deadline_exceeded', 'the request deadline passed while failing over');
    }
    await this.o.sleep(delay);
  }
}
