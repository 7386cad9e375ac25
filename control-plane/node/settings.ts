// The Node control plane's own settings (listening, TLS, files, timers), read once from the
// environment beside the runtime-agnostic ones (core/config.ts).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { type ConfigSource, parseDuration } from '../core/config-values.ts';
import type { TicketAlg } from '../core/tickets.ts';

export interface NodeSettings {
  host: string;
  port: number;
  /** INSECURE=1: development mode may listen beyond loopback. */
  insecure: boolean;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Database and ticket key files (DATA_DIR). */
  dataDir: string;
  databasePath: string;
  /** TICKET_ALG: pins the algorithm; unset, each key's own (new key files: DEFAULT_TICKET_ALG). */
  ticketAlg: TicketAlg | undefined;
  ticketKeyFile: string;
  ticketPrivateKeyPem: string | undefined;
  previousKeyPem: string | undefined;
  previousKeyFile: string;
  previousAlg: TicketAlg | undefined;
  maintenanceMs: number;
  scheduler: string | undefined;
  schedulerWeights: string | undefined;
}

/** `$XDG_STATE_HOME/titancompute/control-plane`, else `~/.local/state/titancompute/control-plane`. */
export function defaultDataDir(env: ConfigSource, home = homedir()): string {
  return join(env.XDG_STATE_HOME || join(home, '.local', 'state'), 'titancompute', 'control-plane');
}

/** DATA_DIR (read against the current folder when relative), else the default above. */
export function dataDirOf(env: ConfigSource): string {
  return env.DATA_DIR ? resolve(env.DATA_DIR) : defaultDataDir(env);
}

export function databasePathOf(env: ConfigSource): string {
  return env.DATABASE_PATH || join(dataDirOf(env), 'control-plane.db');
}

const pem = (value: string | undefined) => value?.replace(/\\n/g, '\n') || undefined;

export function loadNodeSettings(env: ConfigSource): NodeSettings {
  const dataDir = dataDirOf(env);
  const port = Number(env.PORT || 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be an integer from 0 to 65535, got '${env.PORT}'`);
  }
  return {
    host: env.HOST || '127.0.0.1',
    port,
    insecure: env.INSECURE === '1',
    tlsCert: env.TLS_CERT || undefined,
    tlsKey: env.TLS_KEY || undefined,
    headersTimeoutMs: parseDuration(env.HEADERS_TIMEOUT, 10_000, 'HEADERS_TIMEOUT'),
    requestTimeoutMs: parseDuration(env.REQUEST_TIMEOUT, 30_000, 'REQUEST_TIMEOUT'),
    dataDir,
    databasePath: databasePathOf(env),
    // createTicketSigner refuses an algorithm it does not know, or one the key is not for.
    ticketAlg: (env.TICKET_ALG || undefined) as TicketAlg | undefined,
    ticketKeyFile: env.TICKET_KEY_FILE || join(dataDir, 'ticket-key.pem'),
    ticketPrivateKeyPem: env.TICKET_PRIVATE_KEY || undefined,
    previousKeyPem: pem(env.TICKET_PREVIOUS_KEY),
    previousKeyFile: env.TICKET_PREVIOUS_KEY_FILE || join(dataDir, 'ticket-key.previous.pem'),
    previousAlg: (env.TICKET_PREVIOUS_ALG || undefined) as TicketAlg | undefined,
    maintenanceMs: parseDuration(env.MAINTENANCE_INTERVAL, 5_000, 'MAINTENANCE_INTERVAL'),
    scheduler: env.SCHEDULER || undefined,
    schedulerWeights: env.SCHEDULER_WEIGHTS || undefined,
  };
}
