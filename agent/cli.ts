// `agent start`: parses flags/env, starts the agent, prints one ready line, drains on SIGINT/SIGTERM.
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseCommand, USAGE } from './config.ts';
import { createLogger } from './log.ts';
import { startAgent } from './server.ts';

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'models') {
    const { modelsMain } = await import('./cli-models.ts');
    return modelsMain(argv.slice(1), {
      env: process.env,
      root: fileURLToPath(new URL('..', import.meta.url)),
      out: (s) => process.stdout.write(s),
      err: (s) => process.stderr.write(s),
      tty: process.stderr.isTTY === true,
    });
  }
  let parsed: ReturnType<typeof parseCommand>;
  try {
    parsed = parseCommand(argv, {
      env: process.env,
      hostname: hostname(),
      root: fileURLToPath(new URL('..', import.meta.url)),
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`agent: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const { config } = parsed;
  const log = createLogger({ json: config.logFormat === 'json' });
  let agent: Awaited<ReturnType<typeof startAgent>>;
  try {
    agent = await startAgent(config, { log });
  } catch (err) {
    log.error('agent failed to start', { error: err instanceof Error ? err.message : String(err) });
    return 1;
  }
  const models = (await agent.engine.listModels().catch(() => [])).map((m) => m.name).join(',');
  process.stdout.write(
    `agent ${config.agentId} listening on ${agent.url} (engine ${agent.engine.kind}, model ${models || 'none'})\n`,
  );

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn('second signal: exiting without draining', { signal });
        resolve(1);
        return;
      }
      agent.shutdown(signal).then(
        () => resolve(0),
        (err: unknown) => {
          log.error('shutdown failed', { error: err instanceof Error ? err.message : String(err) });
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
