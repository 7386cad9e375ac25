// `agent service print|install`: the systemd unit that runs this agent on a bare host, with its
// settings in an environment file and its state in one data folder (docs/deploy-systemd.md).
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { operatorPath, type PathContext } from './paths.ts';

export const SERVICE_USAGE = `Usage: agent service <print|install> [options]

  print     write the systemd unit to standard output
  install   write the unit, and an environment file to fill in unless one exists
            (then: systemctl daemon-reload && systemctl enable --now <name>)

Options:
  --name <name>        unit name (default titancompute-agent)
  --user <user>        the account the agent runs as (default titan; create it first)
  --data-dir <dir>     the agent's data folder (default /var/lib/titancompute/agent)
  --env-file <file>    its settings (default /etc/titancompute/agent.env)
  --unit-dir <dir>     where install writes <name>.service (default /etc/systemd/system)

Relative paths are read against the current folder.
`;

const OPTIONS = {
  name: { type: 'string', default: 'titancompute-agent' },
  user: { type: 'string', default: 'titan' },
  'data-dir': { type: 'string', default: '/var/lib/titancompute/agent' },
  'env-file': { type: 'string', default: '/etc/titancompute/agent.env' },
  'unit-dir': { type: 'string', default: '/etc/systemd/system' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface UnitOptions {
  user: string;
  dataDir: string;
  envFile: string;
  /** The Node binary and the agent's bin/agent.mjs, as absolute paths. */
  node: string;
  agentBin: string;
}

/** systemd's quoting for one word of a command line. */
function word(s: string): string {
  return /^[\w./@:+=-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * The unit: the supervised agent (its supervisor reports a crashed agent process to the control
 * plane at once and restarts it); systemd restarts the supervisor if that gives up. Stopping
 * sends SIGTERM to the supervisor alone, which drains the agent (DRAIN_TIMEOUT_MS, 30 s).
 */
export function systemdUnit(o: UnitOptions): string {
  // systemd creates a folder under /var/lib for the service user itself (StateDirectory=);
  // elsewhere the operator creates it (install says how).
  const state = o.dataDir.startsWith('/var/lib/')
    ? `StateDirectory=${o.dataDir.slice('/var/lib/'.length)}\nStateDirectoryMode=0700`
    : `ReadWritePaths=${word(o.dataDir)}`;
  return `[Unit]
Description=TitanCompute agent
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=${o.user}
Group=${o.user}
EnvironmentFile=${o.envFile}
Environment=AGENT_DATA_DIR=${word(o.dataDir)}
WorkingDirectory=${word(o.dataDir)}
ExecStart=${word(o.node)} ${word(o.agentBin)} start
Restart=on-failure
RestartSec=5
KillMode=mixed
TimeoutStopSec=45
LimitNOFILE=65536
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=full
ProtectHome=read-only
${state}

[Install]
WantedBy=multi-user.target
`;
}

/** The environment file install writes when there is none: what an operator must fill in. */
export function environmentTemplate(): string {
  return `# TitanCompute agent settings (agent --help lists every variable). Keep this file private.
CONTROL_PLANE_URL=https://cp.example.com
JOIN_TOKEN=
# Listen on every address and tell the control plane where clients reach this host.
HOST=0.0.0.0
PORT=8081
PUBLIC_URL=http://gpu1.example.com:8081
# The model (default: the demo model, once \`agent models pull\` fetched it):
#MODEL_PATH=/var/lib/titancompute/agent/models/model.gguf
#SUPPORTED_MODELS=my-model
# llama.cpp's llama-server, run by the agent (faster than the embedded engine, its fallback):
#LLAMA_SERVER=/opt/llama.cpp/build/bin/llama-server
# Without it, the embedded engine: installed into the data folder at the first start (CUDA where
# nvidia-smi lists a GPU, else CPU; \`agent engine install\` does it ahead of time). 0: never.
#ENGINE_INSTALL=0
# Or front a local Ollama or OpenAI-compatible server:
#OLLAMA_HOST=http://127.0.0.1:11434
#ENGINE=openai
#UPSTREAM_URL=http://127.0.0.1:8000
`;
}

export interface ServiceCliIo extends Pick<PathContext, 'cwd'> {
  out: (s: string) => void;
  err: (s: string) => void;
  node: string;
  agentBin: string;
}

export async function serviceMain(argv: string[], io: ServiceCliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`agent service: ${(err as Error).message}\n\n${SERVICE_USAGE}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    io.out(SERVICE_USAGE);
    return 0;
  }
  const command = positionals[0];
  if ((command !== 'print' && command !== 'install') || positionals.length > 1) {
    io.err(SERVICE_USAGE);
    return 2;
  }
  const envFile = operatorPath(io, v['env-file']);
  const unit = systemdUnit({
    user: v.user,
    dataDir: operatorPath(io, v['data-dir']).replace(/\/+$/, ''),
    envFile,
    node: io.node,
    agentBin: io.agentBin,
  });
  if (command === 'print') {
    io.out(unit);
    return 0;
  }
  const unitDir = operatorPath(io, v['unit-dir']);
  const unitPath = join(unitDir, `${v.name}.service`);
  await mkdir(unitDir, { recursive: true });
  await writeFile(unitPath, unit);
  io.out(`wrote ${unitPath}\n`);
  if (existsSync(envFile)) {
    io.out(`kept ${envFile}\n`);
  } else {
    await mkdir(join(envFile, '..'), { recursive: true });
    await writeFile(envFile, environmentTemplate(), { mode: 0o600 });
    await chmod(envFile, 0o600);
    io.out(`wrote ${envFile}: fill in CONTROL_PLANE_URL, JOIN_TOKEN and PUBLIC_URL\n`);
  }
  const dataDir = operatorPath(io, v['data-dir']);
  const steps = [
    `id ${v.user} || useradd --system --no-create-home --shell /usr/sbin/nologin ${v.user}`,
    ...(dataDir.startsWith('/var/lib/')
      ? []
      : [`install -d -o ${v.user} -g ${v.user} -m 0700 ${word(dataDir)}`]),
    `systemctl daemon-reload && systemctl enable --now ${v.name}`,
  ];
  io.out(`next:\n${steps.map((s) => `  ${s}\n`).join('')}`);
  return 0;
}
