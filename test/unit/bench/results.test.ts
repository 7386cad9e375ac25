// The docs' results blocks match the stored results they name, and the store records what a reader
// needs to judge a figure.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readResult, startRun } from '../../../bench/results.ts';
import { docFiles, regenerate, renderBlock } from '../../../scripts/bench-docs.ts';

describe('docs quote stored results', () => {
  it('every results block in docs/ equals its stored result, rendered', () => {
    const blocks: string[] = [];
    for (const file of docFiles()) {
      const text = readFileSync(file, 'utf8');
      expect(regenerate(text), `${file}: run npm run bench:docs`).toBe(text);
      blocks.push(...(text.match(/<!-- results: \S+ -->/g) ?? []));
    }
    expect(blocks.length).toBeGreaterThan(0);
  });

  it('a block that drifted from its file is rewritten, one naming a missing file throws', () => {
    const path = firstBlockPath();
    const drifted = `x\n<!-- results: ${path} -->\n| edited by hand |\n<!-- /results -->\ny`;
    expect(regenerate(drifted)).toBe(`x\n${renderBlock(path)}\ny`);
    expect(() =>
      regenerate('<!-- results: bench/results/none.json -->\n<!-- /results -->'),
    ).toThrow(/missing file/);
  });
});

describe('results store', () => {
  it('records commit, machine, load average before and after, command and tables', () => {
    const r = readResult(firstBlockPath());
    expect(r.commit).toMatch(/^[0-9a-f]{7}$/);
    expect(r.machine.cores).toBeGreaterThan(0);
    expect(r.loadAverage.before).toHaveLength(3);
    expect(r.loadAverage.after).toHaveLength(3);
    expect(r.command).toMatch(/^npm run /);
    expect(r.tables).toContain('|');
    expect(startRun('x').loadBefore).toHaveLength(3);
  });
});

function firstBlockPath(): string {
  for (const file of docFiles()) {
    const m = readFileSync(file, 'utf8').match(/<!-- results: (\S+) -->/);
    if (m?.[1]) return m[1];
  }
  throw new Error('no results block in docs/');
}
