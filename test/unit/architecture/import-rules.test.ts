// The import rules `npm run lint` enforces (.dependency-cruiser.cjs), shown failing on a small
// tree that breaks each of them once. The real tree is checked by the lint itself.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../../..');
const tree = mkdtempSync(join(tmpdir(), 'titan-imports-'));
afterAll(() => rmSync(tree, { recursive: true, force: true }));

function write(path: string, text: string) {
  mkdirSync(dirname(join(tree, path)), { recursive: true });
  writeFileSync(join(tree, path), text);
}

function cruise(...entries: string[]) {
  const run = spawnSync(
    join(repo, 'node_modules/.bin/depcruise'),
    [...entries, '--config', join(repo, '.dependency-cruiser.cjs'), '--output-type', 'err'],
    { cwd: tree, encoding: 'utf8' },
  );
  return { status: run.status, out: run.stdout + run.stderr };
}

describe('import rules', () => {
  symlinkSync(join(repo, 'node_modules'), join(tree, 'node_modules'));
  write('tsconfig.json', JSON.stringify({ compilerOptions: { allowImportingTsExtensions: true } }));
  write('schema/tables.ts', 'export const t = 1;\n');
  write('protocol/wire.ts', 'export const w = 1;\n');
  write('control-plane/node/main.ts', 'export const m = 1;\n');
  write(
    'control-plane/core/ok.ts',
    "import { w } from '../../protocol/wire.ts';\nexport const ok = w;\n",
  );

  it('passes a tree that keeps them', () => {
    const { status, out } = cruise('control-plane', 'protocol', 'schema');
    expect(out).toContain('no dependency violations');
    expect(status).toBe(0);
  });

  it('fails each deliberate violation, naming its rule', () => {
    write(
      'control-plane/core/bad.ts',
      [
        "import { readFileSync } from 'node:fs';",
        "import Database from 'better-sqlite3';",
        "import { m } from '../node/main.ts';",
        "import { e } from '../../agent/engines/engine.ts';",
        'export const bad = [readFileSync, Database, m, e];',
        '',
      ].join('\n'),
    );
    write('agent/engines/engine.ts', "import { h } from '../http/job.ts';\nexport const e = h;\n");
    write('agent/http/job.ts', 'export const h = 1;\n');
    write('schema/bad.ts', "import { w } from '../protocol/wire.ts';\nexport const s = w;\n");
    write('protocol/bad.ts', "import { t } from '../schema/tables.ts';\nexport const p = t;\n");
    write('client/a.ts', "import { b } from './b.ts';\nexport const a = () => b;\n");
    write('client/b.ts', "import { a } from './a.ts';\nexport const b = () => a;\n");
    const { status, out } = cruise('control-plane', 'agent', 'protocol', 'schema', 'client');
    expect(status).not.toBe(0);
    for (const rule of [
      'core-no-node-module',
      'core-no-node-package',
      'core-not-runtime-entry',
      'control-plane-not-agent',
      'engines-not-http',
      'schema-imports-nothing-ours',
      'protocol-imports-nothing-ours',
      'no-cycle',
    ]) {
      expect(out, rule).toContain(`error ${rule}:`);
    }
  });
});
