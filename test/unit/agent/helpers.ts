// Shared fixtures for agent unit tests: a local signing key + JWKS, tickets, app and stream readers.
import type { Hono } from 'hono';
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { createAgentApp } from '../../../agent/app.ts';
import type { InferenceEngine } from '../../../agent/engines/engine.ts';
import { FakeEngine, type FakeEngineOptions } from '../../../agent/engines/fake.ts';
import type { AdmissionConfirmer } from '../../../agent/http/job.ts';
import { JobTracker } from '../../../agent/jobs.ts';
import { createLogger } from '../../../agent/log.ts';
import type { AgentMetrics } from '../../../agent/metrics.ts';
import type { PrefixRecord } from '../../../agent/prefix-record.ts';
import { createTicketVerifier, type KeySource } from '../../../agent/tickets.ts';
import { type JobReport, TICKET_TYPE } from '../../../protocol/agent-api.ts';

export const AGENT_ID = 'agent-test';
export const ISSUER = 'http://cp.test';
export const MODEL = 'fake-model';
/** The registration epoch of test agents; tickets carry it as `reg` unless told otherwise. */
export const REGISTERED_AT = 1_000;

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export interface SigningKey {
  kid: string;
  privateKey: PrivateKey;
  publicJwk: JWK;
}

export async function makeSigningKey(kid = 'k1', alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, privateKey, publicJwk };
}

export function localKeys(...keys: SigningKey[]): KeySource {
  return createLocalJWKSet({ keys: keys.map((k) => k.publicJwk) });
}

export interface TicketOverrides {
  aud?: string;
  iss?: string;
  model?: string | null;
  jti?: string | null;
  sub?: string;
  /** Seconds from now. */
  expIn?: number;
  iatOffset?: number;
  /** Seconds from now; default: iat. */
  nbfIn?: number;
  alg?: string;
  typ?: string | null;
  maxTokens?: number | null;
  /** Registration epoch claim; default REGISTERED_AT, null: absent. */
  reg?: number | null;
}

let counter = 0;

export async function signTicket(key: SigningKey, o: TicketOverrides = {}): Promise<string> {
  const nowSec = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {};
  if (o.model !== null) claims.model = o.model ?? MODEL;
  if (o.maxTokens !== null) claims.max_tokens = o.maxTokens ?? 256;
  if (o.reg !== null) claims.reg = o.reg ?? REGISTERED_AT;
  const typ = o.typ === null ? {} : { typ: o.typ ?? TICKET_TYPE };
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: key.kid, ...typ })
    .setNotBefore(nowSec + (o.nbfIn ?? o.iatOffset ?? 0))
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(o.aud ?? AGENT_ID)
    .setSubject(o.sub ?? 'client-1')
    .setIssuedAt(nowSec + (o.iatOffset ?? 0))
    .setExpirationTime(nowSec + (o.expIn ?? 300));
  if (o.jti !== null)
    jwt.setJti(o.jti ?? `jti-${++counter}-${Math.random().toString(36).slice(2)}`);
  return jwt.sign(key.privateKey);
}

export interface TestAgent<E extends InferenceEngine = FakeEngine> {
  app: Hono;
  engine: E;
  jobs: JobTracker;
  reports: { jti: string; report: JobReport }[];
  /** Every line the agent logged, parsed (JSON format). */
  logs: Record<string, unknown>[];
  key: SigningKey;
  ticket(o?: TicketOverrides): Promise<string>;
}

let sharedKey: Promise<SigningKey> | undefined;

export interface TestAgentOptions {
  maxConcurrentJobs?: number;
  maxQueue?: number;
  confirmAdmission?: AdmissionConfirmer;
  /** Called with each report; its promise is the report's delivery. */
  onReport?: (report: JobReport) => Promise<void>;
  metrics?: AgentMetrics;
  metricsToken?: string;
  remoteAddress?: () => string | undefined;
  /** Records what the engine holds after each job (heartbeats, job reports). */
  prefixes?: PrefixRecord;
}

/** A test agent on the fake engine (its script in `options.engine`). */
export function makeAgent(
  options: TestAgentOptions & { engine?: FakeEngineOptions } = {},
): Promise<TestAgent> {
  return makeAgentWith(new FakeEngine({ models: [MODEL], ...options.engine }), options);
}

/** A test agent (local ticket key, recorded reports and logs) on any engine. */
export async function makeAgentWith<E extends InferenceEngine>(
  engine: E,
  options: TestAgentOptions = {},
): Promise<TestAgent<E>> {
  sharedKey ??= makeSigningKey();
  const key = await sharedKey;
  const jobs = new JobTracker(options.maxConcurrentJobs ?? 4, Date.now, options.maxQueue ?? 0);
  const reports: TestAgent<E>['reports'] = [];
  const logs: TestAgent<E>['logs'] = [];
  const log = createLogger({ json: true, write: (line) => logs.push(JSON.parse(line)) });
  const app = createAgentApp({
    engine,
    tickets: createTicketVerifier({
      audience: AGENT_ID,
      issuer: ISSUER,
      keys: localKeys(key),
      registeredAt: REGISTERED_AT,
    }),
    reportJob: (jti, report) => {
      reports.push({ jti, report });
      return options.onReport?.(report);
    },
    ...(options.confirmAdmission ? { confirmAdmission: options.confirmAdmission } : {}),
    config: { agentId: AGENT_ID, maxConcurrentJobs: jobs.capacity, version: 'test' },
    jobs,
    log,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    metricsToken: options.metricsToken,
    remoteAddress: options.remoteAddress,
    ...(options.prefixes ? { prefixes: options.prefixes } : {}),
  });
  return { app, engine, jobs, reports, logs, key, ticket: (o) => signTicket(key, o) };
}

/** POSTs JSON with the ticket in the query string (as a control-plane redirect delivers it). */
export function post(
  agent: Pick<TestAgent<InferenceEngine>, 'app'>,
  path: string,
  body: unknown,
  ticket: string | undefined,
  init: RequestInit = {},
): Promise<Response> {
  const url = new URL(path, 'http://agent.test');
  if (ticket) url.searchParams.set('ticket', ticket);
  return Promise.resolve(
    agent.app.request(
      new Request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
        ...init,
      }),
    ),
  );
}

/** `data:` payloads of an SSE body, in order (JSON parsed except `[DONE]`). */
export function parseSSE(text: string): unknown[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice(6))
        .join('\n');
      return data === '[DONE]' ? data : JSON.parse(data);
    });
}

export function parseNDJSON(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export async function until(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const chatBody = (extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  messages: [{ role: 'user', content: 'say hello' }],
  ...extra,
});
