import { parseArgs } from 'node:util';
import { Hono } from 'hono';
import { openAIErrorBody } from '../../protocol/dialects.ts';
import { toApiError } from '../core/app.ts';
import { loadConfig } from '../core/config.ts';
import { adminRoutes } from '../core/routes/admin.ts';
import { silentLogger } from '../core/runtime.ts';
import { newSecret } from '../core/secrets.ts';
import {
  DEFAULT_TICKET_ALG,
  generatePrivateKeyPem,
  TICKET_ALGS,
  type TicketAlg,
} from '../core/tickets.ts';
import { databasePathOf } from './settings.ts';
import { openSqlite } from './sqlite.ts';

export const ADMIN_USAGE = `Usage:
  titan-control-plane [start]                       run the Node control plane (environment: README)
  titan-control-plane --version
  titan-control-plane agents list
  titan-control-plane agents drain <id>             no new work for the agent; running jobs finish
  titan-control-plane agents undrain <id>
  titan-control-plane requests show <id>            a request's timeline: decision, ticket,
                                                    admission, first token, end (docs/api.md)
  titan-control-plane keys create --name <name> [--rate <per-minute>] [--concurrent <n>]
  titan-control-plane keys list
  titan-control-plane keys revoke <id>
  titan-control-plane join-tokens create --name <name> [--ttl 24h] [--max-agents <n>]
  titan-control-plane join-tokens list
  titan-control-plane join-tokens revoke <id>
  titan-control-plane keys generate-ticket-key [--alg ES256|EdDSA|RS256]
                                                    print a new PKCS#8 PEM ticket signing key
                                                    (default ES256; the control plane takes
                                                    the algorithm from the key)
  titan-control-plane keys generate-admin-key       print a new random ADMIN_KEY

Options:
  --url <url>   the control plane's admin API (a Worker or a Node control plane) [CONTROL_PLANE_URL];
                the admin key is read from ADMIN_KEY. Without --url, commands work on the local
                Node database (DATABASE_PATH, else DATA_DIR/control-plane.db).
  --help        this text

Output is JSON, except the generated secrets, which are printed bare (pipe them into
\`npx wrangler secret put\`, see docs/deploy-cloudflare.md).`;

/** A command line that cannot be run; the binary exits with status 2. */
export class UsageError extends Error {}

export const ADMIN_KEY_PREFIX = 'ak-titan-';

/** One admin API call: method, path under /admin, JSON body; resolves to the JSON answer. */
type AdminCall = (method: string, path: string, body?: unknown) => Promise<unknown>;

async function answer(res: Response): Promise<unknown> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.ok && body !== undefined) return body;
  const message = (body as { error?: { message?: string } | string } | undefined)?.error;
  const why = typeof message === 'string' ? message : (message?.message ?? text.slice(0, 200));
  throw new Error(`${res.status} ${res.statusText}: ${why}`.trim());
}

function request(method: string, body: unknown, headers: Record<string, string> = {}) {
  return {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  };
}

/** The admin API of a running control plane (a Worker or Node) over HTTP. */
export function httpAdmin(url: string, adminKey: string, fetchImpl = fetch): AdminCall {
  const base = url.replace(/\/+$/, '');
  return async (method, path, body) =>
    answer(
      await fetchImpl(`${base}/admin${path}`, {
        ...request(method, body, { authorization: `Bearer ${adminKey}` }),
        signal: AbortSignal.timeout(30_000),
      }),
    );
}

/** The same admin API served in-process over the local Node database. */
function localAdmin(env: Record<string, string | undefined>, now: () => number) {
  const { store, sqlite } = openSqlite(databasePathOf(env));
  const adminKey = newSecret('local-');
  const config = loadConfig({ ...env, ADMIN_KEY: adminKey });
  const app = new Hono()
    .route('/admin', adminRoutes({ store, clock: { now }, config, log: silentLogger }))
    .onError((err, c) => {
      const apiErr = toApiError(err);
      return c.json(openAIErrorBody(apiErr), apiErr.status);
    });
  const call: AdminCall = async (method, p, body) =>
    answer(
      await app.request(
        `/admin${p}`,
        request(method, body, { authorization: `Bearer ${adminKey}` }),
      ),
    );
  return { call, close: () => sqlite.close() };
}

function positive(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive integer`);
  return n;
}

function needId(id: string | undefined, action: string): string {
  if (!id) throw new UsageError(`${action} needs an id (see list)`);
  return encodeURIComponent(id);
}

type Values = {
  name?: string;
  rate?: string;
  concurrent?: string;
  ttl?: string;
  'max-agents'?: string;
  alg?: string;
};

/** The admin API call a command line stands for (method, path, body). */
function apiCall(what: string, action: string, id: string | undefined, values: Values) {
  const resource = what === 'keys' ? '/api-keys' : `/${what}`;
  if (what === 'requests') {
    if (action === 'show') return { method: 'GET', path: `/requests/${needId(id, action)}` };
    throw new UsageError(ADMIN_USAGE);
  }
  if (action === 'list') return { method: 'GET', path: resource };
  if (what === 'agents') {
    if (action === 'drain' || action === 'undrain') {
      return { method: 'POST', path: `/agents/${needId(id, action)}/${action}` };
    }
    throw new UsageError(ADMIN_USAGE);
  }
  if (action === 'revoke') return { method: 'DELETE', path: `${resource}/${needId(id, action)}` };
  if (action !== 'create') throw new UsageError(ADMIN_USAGE);
  if (!values.name) throw new UsageError('--name is required');
  const body =
    what === 'keys'
      ? {
          name: values.name,
          rateLimitPerMinute: positive(values.rate, 'rate'),
          maxConcurrent: positive(values.concurrent, 'concurrent'),
        }
      : {
          name: values.name,
          ttl: values.ttl,
          maxAgents: positive(values['max-agents'], 'max-agents'),
        };
  return { method: 'POST', path: resource, body };
}

/**
 * Runs one admin command; returns what to print (a string as it is, anything else as JSON) or
 * throws (UsageError for a command line that cannot run, Error for a refused call).
 */
export async function runAdminCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  now: () => number = Date.now,
): Promise<unknown> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${ADMIN_USAGE}`);
  }
  const { values, positionals } = parsed;
  const [what, action, id] = positionals;
  if (values.help || what === 'help') return ADMIN_USAGE;
  if (!['keys', 'join-tokens', 'agents', 'requests'].includes(what ?? '') || !what || !action) {
    throw new UsageError(ADMIN_USAGE);
  }
  if (what === 'keys' && action === 'generate-ticket-key') {
    const alg = (values.alg ?? DEFAULT_TICKET_ALG) as TicketAlg;
    if (!TICKET_ALGS.includes(alg)) throw new UsageError(`--alg must be one of ${TICKET_ALGS}`);
    return generatePrivateKeyPem(alg);
  }
  if (what === 'keys' && action === 'generate-admin-key') return newSecret(ADMIN_KEY_PREFIX);

  const { method, path, body } = apiCall(what, action, id, values);
  const url = values.url ?? env.CONTROL_PLANE_URL;
  if (url) {
    if (!env.ADMIN_KEY) throw new UsageError('ADMIN_KEY is not set: export the admin key first');
    return httpAdmin(url, env.ADMIN_KEY)(method, path, body);
  }
  const local = localAdmin(env, now);
  try {
    return await local.call(method, path, body);
  } finally {
    local.close();
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      name: { type: 'string' },
      rate: { type: 'string' },
      concurrent: { type: 'string' },
      ttl: { type: 'string' },
      'max-agents': { type: 'string' },
      alg: { type: 'string' },
      url: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
}
