// End to end with real processes: the second turn of a conversation goes back to the agent that
// served the first (the TypeScript client sends only the prefix digest to /v1/route) and is served
// from its cache; with that agent busy past PREFIX_MAX_LOAD it goes elsewhere (docs/adr/0013).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TitanClient } from '../../client/titan-client.ts';
import { type Cluster, DEMO_MODEL, startCluster } from '../../scripts/cluster.ts';
import { freePort } from './support/ports.ts';

let cluster: Cluster;
let dataDir: string;
let client: TitanClient;

interface ChatAnswer {
  choices: { message: { content: string } }[];
  usage: { prompt_tokens: number; prompt_tokens_details?: { cached_tokens: number } };
}

const system = {
  role: 'system',
  content: `You are a librarian. ${'Answer in one short sentence and never use lists. '.repeat(40)}`,
};

async function ask(messages: { role: string; content: string }[], maxTokens = 8) {
  const { response, agentId } = await client.request('/v1/chat/completions', {
    model: DEMO_MODEL,
    messages,
    max_tokens: maxTokens,
    temperature: 0,
  });
  expect(response.status).toBe(200);
  return { agentId, answer: (await response.json()) as ChatAnswer };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-e2e-prefix-'));
  const [cp, a1, a2] = [await freePort(), await freePort(), await freePort()];
  cluster = await startCluster({
    cpPort: cp,
    agentPorts: [a1, a2],
    dataDir,
    joinToken: 'e2e-join-token',
    maxConcurrentJobs: 2,
  });
  client = new TitanClient({ baseUrl: cluster.url });
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('prefix-cache affinity', () => {
  it('sends the next turn to the agent holding the conversation, which reports cached tokens', async () => {
    const turn1 = [system, { role: 'user', content: 'Where are the atlases?' }];
    const first = await ask(turn1);
    const turn2 = [
      ...turn1,
      { role: 'assistant', content: first.answer.choices[0]?.message.content ?? '' },
      { role: 'user', content: 'And the dictionaries?' },
    ];
    const second = await ask(turn2);
    expect(second.agentId).toBe(first.agentId);
    const cached = second.answer.usage.prompt_tokens_details?.cached_tokens ?? 0;
    // The system prompt alone is several hundred tokens; all of turn 1 is reused.
    expect(cached).toBeGreaterThan(300);
    expect(cached).toBeLessThan(second.answer.usage.prompt_tokens);

    // That agent busy with one of its two slots: this request would fill it past
    // PREFIX_MAX_LOAD (0.75), so it loses the bonus and the idle agent takes the next turn.
    const busy = new AbortController();
    const long = await client.request(
      '/v1/chat/completions',
      {
        model: DEMO_MODEL,
        messages: [
          ...turn2,
          { role: 'assistant', content: 'ok' },
          { role: 'user', content: 'Tell me a long story.' },
        ],
        max_tokens: 400,
        stream: true,
      },
      busy.signal,
    );
    expect(long.agentId).toBe(first.agentId);
    const third = await ask([
      ...turn2,
      { role: 'assistant', content: second.answer.choices[0]?.message.content ?? '' },
      { role: 'user', content: 'Thanks.' },
    ]);
    busy.abort();
    await long.response.body?.cancel().catch(() => undefined);
    expect(third.agentId).not.toBe(first.agentId);
  });
});
