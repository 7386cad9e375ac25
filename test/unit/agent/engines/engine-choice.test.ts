// Which engine `agent start` runs when ENGINE is unset (ADR 0019): Ollama when OLLAMA_HOST answers,
// else the managed llama-server when a binary is found (the operator's, or the build cache's),
// else the embedded llama.cpp. The build cache is a temporary folder (TITAN_CACHE_DIR), Ollama a
// fake fetch.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../../../../agent/config.ts';
import { engineSelection } from '../../../../agent/config.ts';
import { cachedLlamaServer } from '../../../../agent/engines/llama-server-process.ts';
import { chooseEngine } from '../../../../agent/engines/select.ts';
import { testAgentConfig } from '../agent-config.ts';

let cache: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'titan-engine-choice-'));
  env = { TITAN_CACHE_DIR: cache };
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

/** Puts a (fake) llama-server where scripts/build-llama-cpp.sh leaves the CPU build. */
function buildLlamaServer(): string {
  const bin = cachedLlamaServer(env, 'cpu');
  mkdirSync(dirname(bin), { recursive: true });
  writeFileSync(bin, '');
  return bin;
}

const config = (o: Partial<AgentConfig>) =>
  testAgentConfig({ agentId: 'a', controlPlaneUrl: 'http://cp', ...o });

/** A fetch that answers Ollama's /api/version, or refuses the connection. */
const ollama =
  (up: boolean): typeof fetch =>
  async (input) => {
    expect(String(input)).toMatch(/\/api\/version$/);
    if (!up) throw new TypeError('fetch failed');
    return new Response('{"version":"0.6.0"}');
  };

describe('the engine agent start runs', () => {
  it('is the managed llama-server when the build cache holds one', async () => {
    const bin = buildLlamaServer();
    const choice = await chooseEngine(engineSelection(config({}), env));
    expect(choice.kind).toBe('llama-server');
    expect(choice.reason).toContain(bin);
  });

  it("is the operator's llama-server (--llama-server, LLAMA_SERVER) before the build cache's", async () => {
    buildLlamaServer();
    const sel = engineSelection(config({ llamaServer: '/opt/llama-server' }), env);
    expect(sel.llamaServer).toBe('/opt/llama-server');
    expect(await chooseEngine(sel)).toMatchObject({ kind: 'llama-server' });
  });

  it('falls back to the embedded engine when no llama-server is found, saying how to get one', async () => {
    const choice = await chooseEngine(engineSelection(config({}), env));
    expect(choice.kind).toBe('llama-cpp');
    expect(choice.reason).toContain('scripts/build-llama-cpp.sh llama-server');
  });

  it('is ENGINE when set, whatever is found', async () => {
    buildLlamaServer();
    const forced = { ollamaHost: 'http://ollama:11434', engine: 'llama-cpp' as const };
    const sel = { ...engineSelection(config(forced), env), fetch: ollama(true) };
    expect(await chooseEngine(sel)).toEqual({ kind: 'llama-cpp', reason: 'ENGINE=llama-cpp' });
    const server = engineSelection(config({ engine: 'llama-server' }), env);
    expect(await chooseEngine({ ...server, llamaServer: undefined })).toMatchObject({
      kind: 'llama-server',
    });
  });

  it('is Ollama when OLLAMA_HOST answers, before a llama-server found here', async () => {
    buildLlamaServer();
    const sel = engineSelection(config({ ollamaHost: 'http://ollama:11434' }), env);
    expect(await chooseEngine({ ...sel, fetch: ollama(true) })).toMatchObject({ kind: 'ollama' });
    const down = await chooseEngine({ ...sel, fetch: ollama(false) });
    expect(down.kind).toBe('llama-server');
    expect(down.reason).toContain('Ollama does not answer at http://ollama:11434');
  });
});
