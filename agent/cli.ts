// `agent start`: parses flags/env, then by default supervises the agent in a child process
// (agent/supervisor.ts, ADR 0007); with --no-supervise, or in that child, runs the agent here:
// one ready line, drains on SIGINT/SIGTERM.
import { homedir, hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  type AgentConfig,
  ConfigError,
  parseCommand,
  type SupervisorConfig,
  USAGE,
} from './config.ts';
import { createLogger, type Logger } from './log.ts';
import type { RunningAgent } from './server.ts';
import { stopRequests } from './stop-requests.ts';
import { type ChildMessage, isParentMessage, SUPERVISED_ENV } from './supervisor.ts';

/** Where this process reads its environment and relative paths from. */
function pathContext() {
  return {
    env: process.env,
    cwd: process.cwd(),
    home: homedir(),
    root: fileURLToPath(new URL('..', import.meta.url)),
  };
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'models') {
    const { modelsMain } = await import('./cli-models.ts');
    return modelsMain(argv.slice(1), {
      ...pathContext(),
      out: (s) => process.stdout.write(s),
      err: (s) => process.stderr.write(s),
      tty: process.stderr.isTTY === true,
    });
  }
  if (argv[0] === 'engine') {
    const { engineMain } = await import('./cli-engine.ts');
    return engineMain(argv.slice(1), {
      ...pathContext(),
      out: (s) => process.stdout.write(s),
      err: (s) => process.stderr.write(s),
    });
  }
  if (argv[0] === 'service') {
    const { serviceMain } = await import('./cli-service.ts');
    return serviceMain(argv.slice(1), {
      cwd: process.cwd(),
      out: (s) => process.stdout.write(s),
      err: (s) => process.stderr.write(s),
      node: process.execPath,
      agentBin: fileURLToPath(new URL('../bin/agent.mjs', import.meta.url)),
    });
  }
  let parsed: ReturnType<typeof parseCommand>;
  try {
    parsed = parseCommand(argv, { ...pathContext(), hostname: hostname() });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`agent: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.command === 'version') {
    const { packageVersion } = await import('./version.ts');
    process.stdout.write(`agent ${packageVersion()}\n`);
    return 0;
  }
  if (parsed.command === 'doctor') {
    const { runDoctor } = await import('./doctor.ts');
    return runDoctor(parsed.config, { out: (s) => process.stdout.write(s) });
  }
  const { config } = parsed;
  const log = createLogger({ json: config.logFormat === 'json' });
  const channel = supervisorChannel();
  if (channel) return runAgent(config, log, channel);
  if (parsed.supervisor.enabled) return supervise(argv, config, parsed.supervisor, log);
  return runAgent(config, log);
}

/** The IPC channel to our supervisor, when this process is the supervised agent. */
interface SupervisorChannel {
  send(message: ChildMessage): void;
  onShutdown(listener: (signal: NodeJS.Signals) => void): void;
  /** The supervisor is gone (killed): this process must not outlive it. */
  onGone(listener: () => void): void;
}

function supervisorChannel(): SupervisorChannel | undefined {
  if (process.env[SUPERVISED_ENV] !== '1' || typeof process.send !== 'function') return undefined;
  delete process.env[SUPERVISED_ENV];
  return {
    send(message) {
      if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
    },
    onShutdown(listener) {
      process.on('message', (m) => {
        if (isParentMessage(m)) listener(m.signal);
      });
    },
    onGone(listener) {
      process.once('disconnect', listener);
      // Died before we listened.
      if (!process.connected) queueMicrotask(listener);
    },
  };
}

/**
 * The agent in this process. Stop requests come from signals and, supervised, from the
 * supervisor: the first drains, a second from the same source a second or more later exits at once
 * (stop-requests.ts). A terminal's Ctrl-C or systemd signals both processes, so one SIGINT arrives
 * here twice, once from each source.
 */
async function runAgent(
  config: AgentConfig,
  log: Logger,
  channel?: SupervisorChannel,
): Promise<number> {
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => {
    finish = resolve;
  });
  let agent: RunningAgent | undefined;
  let draining = false;
  const requests = { signal: stopRequests(), supervisor: stopRequests() };
  const onStop = (source: keyof typeof requests, signal: string) => {
    const request = requests[source]();
    if (request === 'same') return;
    if (request === 'again') {
      log.warn('second signal: exiting without draining', { signal });
      finish(1);
      return;
    }
    if (!agent) {
      // Supervised only (unsupervised, a signal while starting ends the process as before).
      log.info('stop requested while starting: exiting', { signal });
      finish(0);
      return;
    }
    if (draining) return;
    draining = true;
    agent.shutdown(signal).then(
      () => finish(0),
      (err: unknown) => {
        log.error('shutdown failed', { error: err instanceof Error ? err.message : String(err) });
        finish(1);
      },
    );
  };
  const onSignals = () => {
    process.on('SIGINT', (s) => onStop('signal', s));
    process.on('SIGTERM', (s) => onStop('signal', s));
  };
  if (channel) {
    onSignals();
    channel.onShutdown((signal) => onStop('supervisor', signal));
    channel.onGone(() => {
      log.warn('supervisor gone: stopping the agent');
      onStop('supervisor', 'supervisor gone');
    });
  }

  const { startAgent } = await import('./server.ts');
  startAgent(config, {
    log,
    ...(channel
      ? {
          onRegistered: (r) =>
            channel.send({
              type: 'titan:registered',
              agentId: r.agentId,
              credential: r.credential,
            }),
        }
      : {}),
  }).then(
    async (running) => {
      agent = running;
      const models = (await running.engine.listModels().catch(() => []))
        .map((m) => m.name)
        .join(',');
      process.stdout.write(
        `agent ${config.agentId} listening on ${running.url} (engine ${running.engine.kind}, model ${models || 'none'})\n`,
      );
      channel?.send({ type: 'titan:ready', url: running.url });
      if (!channel) onSignals();
    },
    (err: unknown) => {
      log.error('agent failed to start', {
        error: err instanceof Error ? err.message : String(err),
      });
      finish(1);
    },
  );
  return done;
}

/** The default: the agent runs in a child process, restarted when it dies. */
async function supervise(
  argv: string[],
  config: AgentConfig,
  supervisorConfig: SupervisorConfig,
  log: Logger,
): Promise<number> {
  const { Supervisor, forkAgentProcess } = await import('./supervisor.ts');
  const { announceOffline } = await import('./control-plane-client.ts');
  const { abortableDelay } = await import('./time.ts');
  const { fetchTrusting } = await import('./tls.ts');
  const supervisor = new Supervisor(supervisorConfig, {
    spawn: (onMessage) => forkAgentProcess(argv, process.env, onMessage),
    announceOffline: async ({ agentId, credential }, exit) => {
      if (!config.controlPlaneUrl) return { ok: false, error: 'no control plane URL' };
      try {
        const cpFetch = config.controlPlaneCa ? fetchTrusting(config.controlPlaneCa) : undefined;
        return await announceOffline({
          baseUrl: config.controlPlaneUrl,
          agentId,
          credential,
          body: { reason: 'agent process died', exitCode: exit.code, signal: exit.signal },
          ...(cpFetch ? { fetch: cpFetch } : {}),
        });
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    },
    now: () => performance.now(),
    sleep: abortableDelay,
    log,
  });
  const onSignal = (signal: NodeJS.Signals) => supervisor.stop(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return supervisor.run();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
