// ENGINE=llama-server against the real llama-server binary (LLAMA_SERVER_BIN) on the demo model:
// the engine starts it as a child on a private loopback port, streams an answer through it, restarts
// it after a kill -9 and serves again, and leaves no process behind once closed; then a whole agent
// process with ENGINE=llama-server answers chat and embeddings (a second child) through the control
// plane's 307 and, stopped, leaves no llama-server child either.
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { GenerateChunk, InferenceEngine } from '../../agent/engines/engine.ts';
import type { LlamaServerEngine } from '../../agent/engines/llama-server.ts';
import { selectEngine } from '../../agent/engines/select.ts';
import { createModelStack } from '../../agent/models/setup.ts';
import {
  DEMO_MODEL,
  DEMO_MODEL_PATH,
  logLine,
  requiredEnv,
  startCluster,
  waitFor,
} from '../../scripts/cluster.ts';
import { freePort } from '../e2e/support/ports.ts';
import { testAgentConfig } from '../unit/agent/agent-config.ts';

const BIN = requiredEnv('LLAMA_SERVER_BIN', 'npm run test:llama-server');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answer(engine: InferenceEngine): Promise<{ text: string; done?: GenerateChunk }> {
  let text = '';
  let done: GenerateChunk | undefined;
  const req = {
    model: DEMO_MODEL,
    messages: [{ role: 'user' as const, content: 'Name a colour.' }],
    temperature: 0,
    maxTokens: 8,
  };
  for await (const c of engine.generate(req, { signal: AbortSignal.timeout(60_000) })) {
    if (c.type === 'token') text += c.text;
    else if (c.type === 'done') done = c;
  }
  return { text, ...(done ? { done } : {}) };
}

describe('ENGINE=llama-server (a managed llama-server child)', () => {
  it('streams, restarts the child after kill -9 and serves again, and leaves no orphan', async () => {
    const lines: string[] = [];
    const log = {
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
    };
    const engine = (await selectEngine({
      engine: 'llama-server',
      llamaServer: BIN,
      modelPath: DEMO_MODEL_PATH,
      models: [DEMO_MODEL],
      maxConcurrentJobs: 2,
      contextSizePerSequence: 1024,
      threads: 1,
      log,
      onEngineGone: () => lines.push('gone'),
    })) as LlamaServerEngine;
    const pids: number[] = [];
    try {
      expect(engine.kind).toBe('llama-server');
      const first = await answer(engine);
      expect(first.text.length).toBeGreaterThan(0);
      expect(first.done).toMatchObject({ type: 'done', completionTokens: 8 });

      const pid = engine.server.pid as number;
      pids.push(pid);
      expect(alive(pid)).toBe(true);
      process.kill(pid, 'SIGKILL');
      await waitFor(
        'llama-server restarted',
        async () => (engine.server.restarts === 1 && engine.server.healthy ? true : undefined),
        120_000,
      );
      expect(lines).toContain('llama-server: crashed');
      expect(lines).toContain('llama-server: serving again');
      const restarted = engine.server.pid as number;
      pids.push(restarted);
      expect(restarted).not.toBe(pid);
      expect(alive(pid)).toBe(false);
      const second = await answer(engine);
      expect(second.text).toBe(first.text); // greedy: the same answer from the new child
    } finally {
      await engine.close();
    }
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(lines).not.toContain('gone');
  }, 300_000);

  it('an agent process with ENGINE=llama-server answers chat and embeddings through the 307 and stops its children', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'titan-managed-'));
    const cluster = await startCluster({
      cpPort: await freePort(),
      agentPorts: [await freePort()],
      dataDir,
      joinToken: 'managed-join-token',
      maxConcurrentJobs: 2,
      agentEnv: { ENGINE: 'llama-server', LLAMA_SERVER: BIN, THREADS: '1', CONTEXT_SIZE: '1024' },
    });
    let childPids: number[] = [];
    try {
      const client = new OpenAI({ baseURL: `${cluster.url}/v1`, apiKey: 'unused' });
      const stream = await client.chat.completions.create({
        model: DEMO_MODEL,
        messages: [{ role: 'user', content: 'Say hello.' }],
        stream: true,
        stream_options: { include_usage: true },
        temperature: 0,
        max_tokens: 8,
      });
      let text = '';
      let usage: { completion_tokens: number } | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text.length).toBeGreaterThan(0);
      expect(usage?.completion_tokens).toBe(8);
      // Embeddings: a second child (llama-server --embeddings serves nothing else), started now.
      const embedded = await client.embeddings.create({ model: DEMO_MODEL, input: ['a', 'b'] });
      expect(embedded.data.map((d) => d.embedding.length)).toEqual([576, 576]);
      const again = await client.chat.completions.create({
        model: DEMO_MODEL,
        messages: [{ role: 'user', content: 'Say hello.' }],
        temperature: 0,
        max_tokens: 8,
      });
      expect(again.usage?.completion_tokens).toBe(8);
      childPids = (cluster.agents[0]?.output ?? [])
        .map(logLine)
        .filter((l) => l.msg === 'llama-server: started' && typeof l.pid === 'number')
        .map((l) => l.pid as number);
      expect(childPids).toHaveLength(2);
      for (const pid of childPids) expect(alive(pid)).toBe(true);
    } finally {
      await cluster.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
    await waitFor(
      'llama-server children gone',
      async () => (childPids.some(alive) ? undefined : true),
      15_000,
    );
  }, 300_000);

  it('with a model catalog, the manager loads its chosen variant into a llama-server child on demand', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'titan-managed-catalog-'));
    const catalog = join(dir, 'catalog.json');
    writeFileSync(
      catalog,
      JSON.stringify({
        models: {
          'smollm2:135m-instruct': {
            aliases: [DEMO_MODEL],
            variants: { Q4_1: { file: 'SmolLM2-135M-Instruct.Q4_1.gguf', path: DEMO_MODEL_PATH } },
          },
        },
      }),
    );
    const lines: { msg: string; pid?: unknown }[] = [];
    const log = {
      info: (msg: string, f?: Record<string, unknown>) => lines.push({ msg, pid: f?.pid }),
      warn: (msg: string) => lines.push({ msg }),
      error: (msg: string) => lines.push({ msg }),
    };
    const config = testAgentConfig({
      agentId: 'agent-ls',
      controlPlaneUrl: undefined,
      engine: 'llama-server',
      llamaServer: BIN,
      catalog,
      modelsDir: join(dir, 'models'),
      contextSize: 512,
      threads: 1,
      maxConcurrentJobs: 2,
    });
    const { manager } = await createModelStack(config, log);
    try {
      // A llama-server child keeps one prompt per slot (its own cache): no extra sequences to report.
      expect(manager.cachedSequences).toBeUndefined();
      // Lazy: nothing runs before the first request.
      expect(lines.filter((l) => l.msg === 'llama-server: started')).toHaveLength(0);
      const { text, done } = await answer(manager);
      expect(text.length).toBeGreaterThan(0);
      expect(done).toMatchObject({ type: 'done', completionTokens: 8 });
      expect(lines.filter((l) => l.msg === 'llama-server: started')).toHaveLength(1);
    } finally {
      await manager.close();
      await rm(dir, { recursive: true, force: true });
    }
    const pid = lines.find((l) => l.msg === 'llama-server: started')?.pid as number;
    expect(alive(pid)).toBe(false);
  }, 300_000);
});
