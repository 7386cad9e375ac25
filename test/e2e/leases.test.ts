// Slot leases end to end (real processes, real model): unfollowed redirects and a killed agent
// give their slots back, and an unmodified openai client in a closed loop at concurrency = slots
// sees no error (docs/adr/0009).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, DEMO_MODEL, startCluster, waitFor } from '../../scripts/cluster.ts';
import { streamChat } from '../../scripts/sse.ts';
import { freePort } from './support/ports.ts';

const SLOTS_PER_AGENT = 2;
const CLAIM_WINDOW_MS = 3_000;
const HEARTBEAT_MS = 2_000;
let cluster: Cluster;
let dataDir: string;

interface AgentSlots {
  id: string;
  url: string;
  state: string;
  slots: { reserved: number; max: number };
}

async function agentSlots(): Promise<AgentSlots[]> {
  return ((await (await fetch(`${cluster.url}/v1/status`)).json()) as { agents: AgentSlots[] })
    .agents;
}

const allFree = async () =>
  (await agentSlots()).every((a) => a.slots.reserved === 0) ? true : undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'titan-leases-'));
  const [cp, a1, a2] = [await freePort(), await freePort(), await freePort()];
  cluster = await startCluster({
    cpPort: cp,
    agentPorts: [a1, a2],
    dataDir,
    joinToken: 'e2e-join-token',
    maxConcurrentJobs: SLOTS_PER_AGENT,
    cpEnv: { LEASE_CLAIM_WINDOW: `${CLAIM_WINDOW_MS}ms`, HEARTBEAT_INTERVAL: `${HEARTBEAT_MS}ms` },
  });
});

afterAll(async () => {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const chatBody = JSON.stringify({
  model: DEMO_MODEL,
  messages: [{ role: 'user', content: 'Say hi.' }],
  max_tokens: 8,
});

describe('slot leases', () => {
  it('50 redirects nobody follows leave every slot free again within the claim window', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${cluster.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: chatBody,
        redirect: 'manual',
      });
      await res.body?.cancel();
      statuses.push(res.status);
    }
    // Every slot was leased at once, and the rest were told to come back in a second.
    expect(statuses.filter((s) => s === 307).length).toBeGreaterThanOrEqual(2 * SLOTS_PER_AGENT);
    const lastIssued = Date.now();
    await waitFor('every slot to be free again', allFree, 4 * (CLAIM_WINDOW_MS + HEARTBEAT_MS));
    console.log(
      `[leases] 50 unfollowed redirects: all slots free ${Date.now() - lastIssued} ms after the last`,
    );
    // And they serve: a followed request goes through.
    const ok = await fetch(`${cluster.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chatBody,
    });
    expect(ok.status).toBe(200);
    await ok.text();
  });

  it('an unmodified openai client in a closed loop at concurrency = slots sees no error', async () => {
    await waitFor('every slot to be free', allFree);
    const client = new OpenAI({ baseURL: `${cluster.url}/v1`, apiKey: 'not-needed' });
    const concurrency = 2 * SLOTS_PER_AGENT;
    const perWorker = 10;
    const errors: string[] = [];
    let done = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < perWorker; i++) {
          try {
            const stream = await client.chat.completions.create({
              model: DEMO_MODEL,
              messages: [{ role: 'user', content: `Count to ${i + 2}.` }],
              max_tokens: 8,
              stream: true,
            });
            for await (const _ of stream) {
              // drain
            }
            done++;
          } catch (err) {
            errors.push(err instanceof Error ? err.message : String(err));
          }
        }
      }),
    );
    console.log(`[leases] closed loop: ${done} completed, ${errors.length} errors`);
    expect(errors).toEqual([]);
    expect(done).toBe(concurrency * perWorker);
  });

  it("frees a killed agent's leases", async () => {
    const supervisor = cluster.agents[0];
    const pid = supervisor?.agentPid;
    if (!supervisor || !pid) throw new Error('no supervised agent process');
    const body = (n: number) => ({
      model: DEMO_MODEL,
      messages: [{ role: 'user' as const, content: `Write a very long story number ${n}.` }],
      max_tokens: 400,
    });
    // Fill every slot with long streams, then kill one agent's process.
    let started = 0;
    const streams = Array.from({ length: 2 * SLOTS_PER_AGENT }, (_, i) =>
      streamChat(cluster.url, body(i), () => {
        started++;
      }).catch(() => undefined),
    );
    await waitFor('every slot to be leased', async () =>
      (await agentSlots()).every((a) => a.slots.reserved === SLOTS_PER_AGENT) ? true : undefined,
    );
    process.kill(pid, 'SIGKILL');
    await waitFor("the killed agent's leases to be released", async () => {
      const a = (await agentSlots()).find((s) => s.url === cluster.agentUrls[0]);
      return a && a.slots.reserved === 0 ? true : undefined;
    });
    await Promise.all(streams);
    expect(started).toBeGreaterThan(0);
    await waitFor('every slot to be free', allFree);
  });
});
