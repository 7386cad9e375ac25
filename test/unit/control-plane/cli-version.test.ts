// Every CLI answers --version (and --help) from the installed package, without starting anything.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../../..');
const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  version: string;
};
const run = (bin: string, ...args: string[]) =>
  promisify(execFile)(process.execPath, [join(repo, 'bin', bin), ...args], { cwd: repo });

describe('--version and --help', () => {
  it('titan-control-plane', async () => {
    expect((await run('control-plane.mjs', '--version')).stdout).toBe(
      `titan-control-plane ${version}\n`,
    );
    expect((await run('control-plane.mjs', '--help')).stdout).toContain('--version');
  });

  it('agent, and agent models', async () => {
    expect((await run('agent.mjs', '--version')).stdout).toBe(`agent ${version}\n`);
    expect((await run('agent.mjs', 'models', '--version')).stdout).toBe(`agent ${version}\n`);
    expect((await run('agent.mjs', '--help')).stdout).toContain('agent doctor');
  });
});
