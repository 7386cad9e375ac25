// As root: an agent in its own network namespace is cut off under load, then healed. Clients time
// out on it and fail over (a stream in flight resumes on the other agent), its breaker or the
// heartbeat timeout detects it, no request goes to it after detection, and once healed it earns
// traffic back through half-open probes. Without CAP_NET_ADMIN the suite is skipped, loudly.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResumeInfo } from '../../client/titan-client.ts';
import { type Cluster, startCluster, waitFor } from '../../scripts/cluster.ts';
import {
  agentStatus,
  type Contact,
  closeBreaker,
  countRequest,
  detection,
  emptyTally,
  recordingClient,
  referenceAnswer,
  routesAfterDetection,
  routesTo,
  streamOnce,
  summarize,
} from './support/faults.ts';
import { createNetns, type Netns } from './support/netns.ts';
import { freePort } from './support/ports.ts';
import { startFaults, storeFaults } from './support/store.ts';

const JOIN = 'partition-join-token';
const COOLDOWN_MS = 10_000;
const made = createNetns();
const netns: Netns | undefined = 'unavailable' in made ? undefined : made;
if (!netns && 'unavailable' in made) {
  console.log(`[partition] NOT RUN: no network namespace (needs root): ${made.unavailable}`);
}

let dataDir: string;
let cpUrl: string;
let cluster: Cluster | undefined;
let agentUrls: string[] = [];
/** Each request's unbroken greedy answer by max_tokens, taken before the cut. */
const refs: Record<number, string> = {};

describe.skipIf(!netns)(
  'network partition (agent in a network namespace)',
  { timeout: 300_000 },
  () => {
    beforeAll(async () => {
      const ns = netns as Netns;
      dataDir = await mkdtemp(join(tmpdir(), 'titan-partition-'));
      cluster = await startCluster({
        cpPort: await freePort(),
        agentPorts: [await freePort(), await freePort()],
        dataDir,
        joinToken: JOIN,
        maxConcurrentJobs: 2,
        // The host's end of the veth pair: reachable from the namespace and from loopback agents.
        cpHost: ns.hostIp,
        cpEnv: {
          HEARTBEAT_TIMEOUT: '10s',
          BREAKER_FAILURES: '3',
          BREAKER_COOLDOWN: `${COOLDOWN_MS}ms`,
        },
        agentHosts: ['127.0.0.1', ns.nsIp],
        agentNetns: [undefined, ns.name],
      });
      cpUrl = cluster.url;
      agentUrls = cluster.agentUrls;
      for (const id of ['agent-1', 'agent-2']) {
        await waitFor(
          `${id} healthy`,
          async () => ((await agentStatus(cpUrl, id))?.state === 'healthy' ? true : undefined),
          180_000,
        );
      }
      const client = recordingClient(cpUrl, []);
      for (const n of [8, 32]) refs[n] = await referenceAnswer(client, countRequest(n));
    });

    afterAll(async () => {
      netns?.heal();
      await cluster?.stop();
      netns?.destroy();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('cut off: requests fail over, the agent is detected and avoided; healed: it earns traffic back', async () => {
      const ns = netns as Netns;
      const contacts: Contact[] = [];
      const resumes: ResumeInfo[] = [];
      const client = recordingClient(cpUrl, contacts, {
        firstTokenTimeoutMs: 3_000,
        idleTimeoutMs: 3_000,
        onResume: (r) => resumes.push(r),
      });
      const run = startFaults('partition');
      const tally = emptyTally();
      const timed = () => streamOnce(client, tally, { maxTokens: 32, reference: refs[32] });
      const cut = agentUrls[1];

      const cutAt = Date.now();
      ns.cut();
      // Four at a time against agent-1's two slots: the scheduler sends some to agent-2 too.
      const running = Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 4; i++) await timed();
      });
      const detected = await detection(cpUrl, 'agent-2');
      await Promise.all(running);
      // A fresh batch once it is surely detected.
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let i = 0; i < 2; i++) await timed();
        }),
      );
      const loadEnd = Date.now();
      // From detection through the end of both batches, before the heal.
      const routed = routesAfterDetection(contacts, cut, detected, loadEnd, COOLDOWN_MS);

      const healedAt = Date.now();
      ns.heal();
      // Heartbeating again and its breaker closed by a probe. It may still read degraded (the
      // failures of the cut stay in its window until successes dilute them): routable either way.
      await closeBreaker(cpUrl, 'agent-2', ['agent-1']);
      const recoverMs = Date.now() - healedAt;
      const stateAfterHeal = (await agentStatus(cpUrl, 'agent-2'))?.state;
      const healedLoadAt = Date.now();
      const healed = emptyTally();
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let i = 0; i < 2; i++)
            await streamOnce(client, healed, { maxTokens: 8, reference: refs[8] });
        }),
      );
      const afterHeal = routesTo(contacts, cut, healedLoadAt);

      const figures = {
        duringFault: summarize(tally),
        afterHeal: summarize(healed),
        resumedOnAnotherAgent: resumes.length,
        detectedBy: detected.by,
        detectMs: detected.at - cutAt,
        routesToCutAgent: routesTo(contacts, cut, cutAt, healedAt),
        routesToCutAfterDetection: routed.total,
        routesToCutWhileExcluded: routed.whileExcluded,
        recoverMs,
        stateAfterHeal,
        routesToHealedAgent: afterHeal,
      };
      console.log(`[partition] ${JSON.stringify(figures)}`);
      const { duringFault, afterHeal: healedTally, ...rest } = figures;
      storeFaults(
        run,
        {
          'cut off (during the fault)': { ...duringFault, ...rest },
          'after the heal': healedTally,
        },
        'test/e2e/partition.test.ts',
      );
      expect(tally.lost).toBe(0);
      expect(tally.completed).toBe(tally.sent);
      expect(healed.lost).toBe(0);
      expect(healed.completed).toBe(healed.sent);
      expect(routed.whileExcluded).toBe(0);
      expect(afterHeal).toBeGreaterThan(0);
    });
  },
);
