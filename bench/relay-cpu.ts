// The agent's own CPU per relayed token on the OpenAI-upstream path (issue 17 item 5), without an
// engine competing for the cores: an agent with ENGINE=openai in front of a stand-in upstream that
// streams llama-server-shaped SSE chunks as fast as they are read; clients through the 307. Reads
// the agent process's utime+stime (/proc/<pid>/stat) before and after. Then the time to first token
// the path adds at one stream: streams one at a time, alternately straight to the stand-in and
// through the 307 and the agent (the stand-in answers at once, so the difference is all ours).
//   npx tsx bench/relay-cpu.ts [--streams 200] [--concurrency 4] [--tokens 64] [--ttft-samples 200]
//                              [--first-token-ms 0] [--json out.json]
// --first-token-ms: the stand-in waits that long before its first chunk, as an engine evaluating a
// prompt does (the agent's admission round trip can hide behind it).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_MODEL, startCluster } from '../scripts/cluster.ts';
import { streamChat } from '../scripts/sse.ts';
import { freePort } from '../test/e2e/support/ports.ts';
import { percentile } from './stats.ts';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    tokens: { type: 'string', default: '64' },
    'ttft-samples': { type: 'string', default: '200' },
    // The stand-in's prompt evaluation: it waits this long before its first chunk.
    'first-token-ms': { type: 'string', default: '0' },
    json: { type: 'string' },
  },
});
const streams = Number(values.streams);
const concurrency = Number(values.concurrency);
const tokens = Number(values.tokens);
const ttftSamples = Number(values['ttft-samples']);
const firstTokenMs = Number(values['first-token-ms']);

/** A chunk as llama-server streams one (its fields, its order). */
const chunk = (i: number, content: string | null, finish: string | null) =>
  `data: ${JSON.stringify({
    choices: [{ finish_reason: finish, index: 0, delta: content === null ? {} : { content } }],
    created: 1765000000,
    id: 'chatcmpl-stand-in',
    model: DEMO_MODEL,
    system_fingerprint: 'b1-stand-in',
    object: 'chat.completion.chunk',
    timings: { predicted_n: i },
  })}\n\n`;

const upstream = createServer((req, res) => {
  if (req.url?.endsWith('/models')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ data: [{ id: DEMO_MODEL }] }));
    return;
  }
  if (!req.url?.endsWith('/chat/completions')) {
    res.writeHead(404).end();
    return;
  }
  req.resume();
  req.on('end', async () => {
    if (firstTokenMs > 0) await new Promise((r) => setTimeout(r, firstTokenMs));
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < tokens; i++) {
      res.write(chunk(i, ` tok${i}`, null));
      await new Promise((r) => setImmediate(r));
    }
    res.write(chunk(tokens, null, 'length'));
    res.write(
      `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 130, completion_tokens: tokens, total_tokens: tokens + 130 } })}\n\n`,
    );
    res.end('data: [DONE]\n\n');
  });
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const dataDir = await mkdtemp(join(tmpdir(), 'titan-relay-'));
const cluster = await startCluster({
  cpPort: await freePort(),
  agentPorts: [await freePort()],
  dataDir,
  joinToken: 'relay-join-token',
  maxConcurrentJobs: concurrency,
  agentEnv: { ENGINE: 'openai', UPSTREAM_URL: upstreamUrl, SUPPORTED_MODELS: DEMO_MODEL },
});
const body = { model: DEMO_MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: tokens };
let result: Record<string, number>;
try {
  for (let i = 0; i < 20; i++) await streamChat(cluster.url, body); // warm-up (JIT)
  const pid = cluster.agents[0]?.agentPid as number;
  const load0 = loadavg()[0] ?? 0;
  const cpu0 = cpuSeconds(pid);
  const started = performance.now();
  let relayed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < streams) {
        const r = await streamChat(cluster.url, body);
        if (!r.sawDone) throw new Error('no [DONE]');
        relayed += r.completionTokens;
      }
    }),
  );
  const cpuMs = (cpuSeconds(pid) - cpu0) * 1000;
  const wallMs = performance.now() - started;
  // One stream at a time, alternating, so drift in the machine's load hits both sides alike.
  const direct: number[] = [];
  const routed: number[] = [];
  for (let i = 0; i < ttftSamples; i++) {
    direct.push((await streamChat(upstreamUrl, body)).ttftMs);
    routed.push((await streamChat(cluster.url, body)).ttftMs);
  }
  const p = (xs: number[], q: number) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      q,
    );
  result = {
    streams,
    concurrency,
    tokens: relayed,
    wallMs,
    agentCpuMs: cpuMs,
    agentCpuMsPerToken: cpuMs / relayed,
    loadBefore: load0,
    ttftSamples,
    firstTokenMs,
    directTtftP50: p(direct, 50),
    directTtftP95: p(direct, 95),
    routedTtftP50: p(routed, 50),
    routedTtftP95: p(routed, 95),
  };
} finally {
  await cluster.stop();
  upstream.close();
  await rm(dataDir, { recursive: true, force: true });
}
console.log(
  `\n| streams | concurrency | tokens | wall s | agent CPU s | agent CPU ms per token |\n|---:|---:|---:|---:|---:|---:|\n| ${result.streams} | ${result.concurrency} | ${result.tokens} | ${((result.wallMs ?? 0) / 1000).toFixed(1)} | ${((result.agentCpuMs ?? 0) / 1000).toFixed(2)} | ${(result.agentCpuMsPerToken ?? 0).toFixed(4)} |`,
);
console.log(
  `(per stream: ${tokens} tokens + the job's fixed costs: ticket, admission, job report)`,
);
const ms = (x: number | undefined) => (x ?? Number.NaN).toFixed(1);
console.log(
  `\n| TTFT, one stream at a time (${ttftSamples} each, alternating; the stand-in's first chunk after ${firstTokenMs} ms) | p50 ms | p95 ms |\n|---|---:|---:|\n` +
    `| straight to the stand-in upstream | ${ms(result.directTtftP50)} | ${ms(result.directTtftP95)} |\n` +
    `| client → control plane (307) → agent → stand-in | ${ms(result.routedTtftP50)} | ${ms(result.routedTtftP95)} |\n` +
    `| added by the path | ${ms((result.routedTtftP50 ?? 0) - (result.directTtftP50 ?? 0))} | |`,
);
if (values.json) await writeFile(values.json, JSON.stringify(result, null, 2));
