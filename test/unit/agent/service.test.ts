// `agent service print|install`: the systemd unit for a bare host, read back key by key, checked by
// `systemd-analyze verify` where systemd is installed, and install's files.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serviceMain, systemdUnit } from '../../../agent/cli-service.ts';
import { ROOT } from '../../../scripts/cluster.ts';

const AGENT_BIN = join(ROOT, 'bin', 'agent.mjs');

/** A unit file as systemd reads it: section → key → values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header?.[1]) {
      current = new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 1) throw new Error(`not a unit line: ${raw}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

async function cli(args: string[], cwd = ROOT) {
  let out = '';
  let err = '';
  const code = await serviceMain(args, {
    cwd,
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    node: process.execPath,
    agentBin: AGENT_BIN,
  });
  return { code, out, err };
}

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'agent-service-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('agent service print', () => {
  it('runs the supervised agent as its own user, with the env file and data folder', async () => {
    const { code, out } = await cli(['print']);
    expect(code).toBe(0);
    const unit = parseUnit(out);
    const service = unit.get('Service');
    expect(service?.get('ExecStart')).toEqual([`${process.execPath} ${AGENT_BIN} start`]);
    expect(service?.get('User')).toEqual(['titan']);
    expect(service?.get('EnvironmentFile')).toEqual(['/etc/titancompute/agent.env']);
    expect(service?.get('Environment')).toEqual(['AGENT_DATA_DIR=/var/lib/titancompute/agent']);
    expect(service?.get('StateDirectory')).toEqual(['titancompute/agent']);
    expect(service?.get('Restart')).toEqual(['on-failure']);
    // SIGTERM to the supervisor alone: it drains the agent process (30 s) before systemd's limit.
    expect(service?.get('KillMode')).toEqual(['mixed']);
    expect(Number(service?.get('TimeoutStopSec')?.[0])).toBeGreaterThan(30);
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
    expect(unit.get('Unit')?.get('After')).toEqual(['network-online.target']);
  });

  it('a data folder outside /var/lib is made writable, not a StateDirectory', async () => {
    const { out } = await cli(['print', '--data-dir', 'state/agent', '--user', 'gpu'], '/srv');
    const service = parseUnit(out).get('Service');
    expect(service?.get('ReadWritePaths')).toEqual(['/srv/state/agent']);
    expect(service?.get('StateDirectory')).toBeUndefined();
    expect(service?.get('Environment')).toEqual(['AGENT_DATA_DIR=/srv/state/agent']);
    expect(service?.get('User')).toEqual(['gpu']);
  });

  it('quotes paths with spaces as systemd reads them', () => {
    const unit = systemdUnit({
      user: 'titan',
      dataDir: '/var/lib/titan agent',
      envFile: '/etc/titan.env',
      node: '/opt/node 20/bin/node',
      agentBin: '/opt/titan/bin/agent.mjs',
    });
    expect(unit).toContain('ExecStart="/opt/node 20/bin/node" /opt/titan/bin/agent.mjs start');
  });

  const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;
  it.runIf(analyze)('passes systemd-analyze verify without a warning', async () => {
    const dir = tempDir();
    const path = join(dir, 'titancompute-agent.service');
    writeFileSync(path, (await cli(['print'])).out);
    const res = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    // The check can fail: a mistyped value is reported.
    writeFileSync(path, readFileSync(path, 'utf8').replace('KillMode=mixed', 'KillMode=gentle'));
    const bad = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
    expect(bad.stderr).toMatch(/kill mode/i);
  });
});

describe('agent service install', () => {
  it('writes the unit and a private env file to fill in, and keeps an existing env file', async () => {
    const dir = tempDir();
    const args = [
      'install',
      '--unit-dir',
      join(dir, 'units'),
      '--env-file',
      join(dir, 'etc/agent.env'),
    ];
    const first = await cli(args);
    expect(first.code).toBe(0);
    const unit = readFileSync(join(dir, 'units', 'titancompute-agent.service'), 'utf8');
    expect(unit).toBe((await cli(['print', '--env-file', join(dir, 'etc/agent.env')])).out);
    const envFile = join(dir, 'etc/agent.env');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(envFile, 'utf8')).toMatch(/^CONTROL_PLANE_URL=/m);
    expect(first.out).toContain(
      'systemctl daemon-reload && systemctl enable --now titancompute-agent',
    );

    writeFileSync(envFile, 'CONTROL_PLANE_URL=https://cp.internal\n');
    const second = await cli(args);
    expect(second.out).toContain(`kept ${envFile}`);
    expect(readFileSync(envFile, 'utf8')).toBe('CONTROL_PLANE_URL=https://cp.internal\n');
  });

  it('refuses an unknown command with the usage', async () => {
    const { code, err } = await cli(['enable']);
    expect(code).toBe(2);
    expect(err).toContain('Usage: agent service');
  });

  it('is reached from the agent binary', () => {
    const out = execFileSync(process.execPath, [AGENT_BIN, 'service', 'print'], {
      encoding: 'utf8',
    });
    expect(existsSync(AGENT_BIN)).toBe(true);
    expect(out).toMatch(/^ExecStart=.*bin\/agent\.mjs start$/m);
  });
});
