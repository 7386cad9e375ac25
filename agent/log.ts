// Concise logging: one line per event, JSON for collectors (the default) or plain text for people.
// Lines about a request carry its `requestId`: the ticket id, also the control plane's.

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export function createLogger(
  options: {
    json?: boolean;
    /** `svc` of every JSON line (default `agent`). */
    service?: string;
    write?: (line: string) => void;
    now?: () => number;
  } = {},
): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? Date.now;
  const service = options.service ?? 'agent';
  const emit = (level: string, message: string, fields: LogFields = {}) => {
    const entries = Object.entries(fields).filter(([, v]) => v !== undefined);
    if (options.json) {
      write(
        JSON.stringify({
          time: new Date(now()).toISOString(),
          level,
          svc: service,
          msg: message,
          ...Object.fromEntries(entries),
        }),
      );
      return;
    }
    const tail = entries.map(
      ([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : v}`,
    );
    write(
      [level === 'info' ? '' : `${level.toUpperCase()}:`, message, ...tail]
        .filter(Boolean)
        .join(' '),
    );
  };
  return {
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
