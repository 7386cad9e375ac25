// The TitanCompute client against the real control-plane app (SQLite) and scripted fake agents.
import { like } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { TitanClient, TitanError } from '../../../client/titan-client.ts';
import { jtiOf, ticketClaims } from '../../../client/wire.ts';
import { createApp } from '../../../control-plane/core/app.ts';
import { openSqlite } from '../../../control-plane/node/sqlite.ts';
import { tickets } from '../../../schema/tables.ts';
import { fakeClock, JOIN_TOKEN, MODEL, makeDeps, registration } from '../../contract/fixtures.ts';

const CP = 'http://cp.test';
type Behaviour =
  | 'ok'
  | 'refuse'
  | 'hang'
  | '500'
  | 'busy'
  | 'break'
  | 'break-early'
  | 'break-after-finish'
  | 'crlf'
  | '400';

const sse = (events: string[], thenFail = false) => {
  const queue = [...events];
  return new ReadableStream<Uint8Array>({
    pull(c) {
      const next = queue.shift();
      if (next !== undefined) c.enqueue(new TextEncoder().encode(`data: ${next}\n\n`));
      else if (thenFail) c.error(new TypeError('terminated'));
      else c.close();
    },
  });
};
/** Server-sent events with CRLF line ends, each CR and its LF in different chunks. */
const crlfSse = (events: string[]) => {
  const queue = events.flatMap((e) => [`data: ${e}\r`, '\n\r', '\n']);
  return new ReadableStream<Uint8Array>({
    pull(c) {
      const next = queue.shift();
      if (next !== undefined) c.enqueue(new TextEncoder().encode(next));
      else c.close();
    },
  });
};
const token = (t: string) => JSON.stringify({ choices: [{ delta: { content: t } }] });

let app: ReturnType<typeof createApp>;
let database: ReturnType<typeof openSqlite>['db'];
/** Each registered agent's credential (its job reports carry it). */
const credentials = new Map<string, string>();
let plan: Behaviour[];
let contacted: string[];
let bodies: Record<string, unknown>[];
let sleeps: number[];
let routeAuth: (string | null)[];

function fakeFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  if (url.origin === CP) {
    if (url.pathname === '/v1/route')
      routeAuth.push(new Headers(init?.headers).get('authorization'));
    return Promise.resolve(app.request(`${url.pathname}`, init));
  }
  contacted.push(url.hostname);
  bodies.push(JSON.parse(String(init?.body ?? '{}')));
  const behaviour = plan.shift() ?? 'ok';
  const signal = init?.signal;
  switch (behaviour) {
    case 'refuse':
      return Promise.reject(new TypeError('fetch failed: ECONNREFUSED'));
    case 'hang':
      return new Promise((_, fail) =>
        signal?.addEventListener('abort', () => fail(new DOMException('aborted', 'AbortError'))),
      );
    case '500':
      return Promise.resolve(Response.json({ error: { code: 'engine_failure' } }, { status: 500 }));
    case 'busy':
      return Promise.resolve(Response.json({ error: { code: 'agent_busy' } }, { status: 429 }));
    case '400':
      return Promise.resolve(
        Response.json({ error: { code: 'invalid_request' } }, { status: 400 }),
      );
    case 'break':
      return Promise.resolve(new Response(sse([token('a'), token('b')], true)));
    case 'break-after-finish':
      return Promise.resolve(
        new Response(
          sse(
            [token('a'), JSON.stringify({ choices: [{ delta: {}, finish_reason: 'stop' }] })],
            true,
          ),
        ),
      );
    case 'break-early':
      return Promise.resolve(new Response(sse([], true)));
    case 'crlf':
      return Promise.resolve(new Response(crlfSse([token('Hi'), token('!'), '[DONE]'])));
    default:
      return Promise.resolve(new Response(sse([token('Hi'), token('!'), '[DONE]'])));
  }
}

const client = (over = {}) =>
  new TitanClient({
    baseUrl: CP,
    fetch: fakeFetch as typeof fetch,
    firstTokenTimeoutMs: 20,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...over,
  });

/** Failure reports the control plane took from the client, per agent (kept on the tickets). */
async function clientReports(): Promise<Record<string, number>> {
  const counts: Record<string, number> = { 'agent-a': 0, 'agent-b': 0 };
  const rows = await database.select().from(tickets).where(like(tickets.error, 'client: %'));
  for (const r of rows) counts[r.agentId] = (counts[r.agentId] ?? 0) + 1;
  return counts;
}

async function collect(
  c: TitanClient,
  path = '/v1/chat/completions',
  body: Record<string, unknown> = { messages: [] },
) {
  let text = '';
  for await (const e of c.stream(path, { model: MODEL, ...body })) {
    const choices = e.choices as { delta?: { content?: string } }[] | undefined;
    text += choices?.[0]?.delta?.content ?? '';
  }
  return text;
}

beforeEach(async () => {
  const opened = openSqlite(':memory:');
  database = opened.db;
  const deps = await makeDeps(opened.store, fakeClock(Date.now()));
  app = createApp(deps);
  plan = [];
  contacted = [];
  bodies = [];
  sleeps = [];
  routeAuth = [];
  for (const id of ['agent-a', 'agent-b']) {
    const res = await app.request('/v1/agents/register', {
      method: 'POST',
      headers: { authorization: `Bearer ${JOIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(registration(id, { url: `http://${id}.test` })),
    });
    credentials.set(id, ((await res.json()) as { credential: string }).credential);
  }
});

describe('TitanClient failover', () => {
  it.each([
    ['a refused connection', 'refuse'],
    ['an agent that never answers', 'hang'],
    ['an engine error before the first token', '500'],
    ['a stream that breaks before the first token', 'break-early'],
  ] as const)('fails over after %s and reports it once', async (_name, first) => {
    plan = [first];
    expect(await collect(client())).toBe('Hi!');
    expect(contacted).toHaveLength(2);
    expect(contacted[0]).not.toBe(contacted[1]);
    const failed = contacted[0]!.replace('.test', '');
    expect((await clientReports())[failed]).toBe(1);
  });

  it('sends its API key to the control plane only, and the ticket to the agent', async () => {
    expect(await collect(client({ apiKey: 'tc-key' }))).toBe('Hi!');
    expect(routeAuth).toEqual(['Bearer tc-key']);
  });

  it('reads a stream framed with CRLF line ends as whole, with no failover or report', async () => {
    plan = ['crlf'];
    expect(await collect(client())).toBe('Hi!');
    expect(contacted).toHaveLength(1);
    expect(Object.values(await clientReports())).toEqual([0, 0]);
  });

  it('fails over from a busy agent without counting it as a failure', async () => {
    plan = ['busy'];
    expect(await collect(client())).toBe('Hi!');
    expect(Object.values(await clientReports())).toEqual([0, 0]);
  });

  it('resumes a stream that breaks after tokens on another agent, from the text so far', async () => {
    plan = ['break'];
    const resumed: unknown[] = [];
    const c = client({ onResume: (i: unknown) => resumed.push(i) });
    const messages = [{ role: 'user', content: 'Say hi' }];
    // What the first agent sent ('ab'), then the second agent's answer: nothing twice.
    expect(await collect(c, '/v1/chat/completions', { messages, max_tokens: 10 })).toBe('abHi!');
    expect(contacted).toHaveLength(2);
    expect(contacted[0]).not.toBe(contacted[1]);
    expect(bodies[1]).toMatchObject({
      messages: [...messages, { role: 'assistant', content: 'ab' }],
      max_tokens: 8,
      stream: true,
    });
    expect(resumed).toMatchObject([
      { fromAgent: contacted[0]!.replace('.test', ''), textEvents: 2 },
    ]);
    expect((await clientReports())[contacted[0]!.replace('.test', '')]).toBe(1);
  });

  it('ends without resuming when the answer was whole and only the end marker was lost', async () => {
    plan = ['break-after-finish'];
    expect(await collect(client())).toBe('a');
    expect(contacted).toHaveLength(1);
    expect((await clientReports())[contacted[0]!.replace('.test', '')]).toBe(1);
  });

  it('a stream that keeps making progress is resumed again, with a fresh set of attempts', async () => {
    plan = ['break', 'break', 'ok'];
    expect(await collect(client({ maxAttempts: 2 }))).toBe('ababHi!');
    expect(contacted).toHaveLength(3);
    expect(bodies[2]).toMatchObject({ messages: [{ role: 'assistant', content: 'abab' }] });
  });

  it('gives up after maxResumes resumes with an explicit error', async () => {
    plan = ['break', 'break', 'break'];
    const err = await collect(client({ maxResumes: 2 })).catch((e: unknown) => e);
    expect((err as TitanError).code).toBe('stream_broken');
    expect(contacted).toHaveLength(3);
  });

  it('gives up when the agents after a break fail before any token (maxAttempts)', async () => {
    plan = ['break', 'refuse', 'refuse'];
    const err = await collect(client({ maxAttempts: 3 })).catch((e: unknown) => e);
    expect((err as TitanError).code).toBe('agents_failed');
    expect(contacted).toHaveLength(3);
  });

  it('ends a stream that breaks after tokens with an explicit error when resume is off', async () => {
    plan = ['break'];
    const err = await collect(client({ resume: false })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TitanError);
    expect((err as TitanError).code).toBe('stream_broken');
    expect(contacted).toHaveLength(1);
    expect((await clientReports())[contacted[0]!.replace('.test', '')]).toBe(1);
  });

  it('returns 4xx answers to the caller without failover or report', async () => {
    plan = ['400'];
    const res = await client().request('/v1/chat/completions', { model: MODEL });
    expect(res.response.status).toBe(400);
    expect(contacted).toHaveLength(1);
    expect(Object.values(await clientReports())).toEqual([0, 0]);
  });

  it('gives up after maxAttempts with an explicit error, backing off with jitter', async () => {
    plan = ['refuse', 'refuse', 'refuse'];
    const err = await collect(client({ maxAttempts: 3 })).catch((e: unknown) => e);
    expect((err as TitanError).code).toBe('agents_failed');
    expect(contacted).toHaveLength(3);
    // Full jitter (random 0.5) over 100·2^n ms.
    expect(sleeps).toEqual([100, 200]);
  });

  it('waits for Retry-After when no agent is free, then succeeds', async () => {
    // Fill every slot of both agents, then free one while the client waits.
    const tickets: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await app.request('/v1/route', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL }),
      });
      tickets.push(((await r.json()) as { ticket: string }).ticket);
    }
    const c = client({
      sleep: async (ms: number) => {
        sleeps.push(ms);
        // The agent refuses the first ticket and reports it, which frees its slot.
        const aud = String(ticketClaims(tickets[0]!).aud);
        const jti = jtiOf(tickets[0]!);
        await app.request(`/v1/agents/${aud}/jobs/${jti}`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${credentials.get(aud)}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({
            outcome: 'rejected',
            model: MODEL,
            promptTokens: 0,
            completionTokens: 0,
            durationMs: 1,
          }),
        });
      },
    });
    expect(await collect(c)).toBe('Hi!');
    expect(sleeps).toEqual([1000]);
  });

  it('says no_agent_available when nothing frees up before the deadline', async () => {
    for (let i = 0; i < 8; i++) {
      await app.request('/v1/route', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL }),
      });
    }
    const err = await collect(client({ deadlineMs: 500 })).catch((e: unknown) => e);
    expect((err as TitanError).code).toBe('no_agent_available');
  });
});
