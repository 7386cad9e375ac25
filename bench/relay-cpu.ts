// The agent's own CPU per relayed token on the OpenAI-upstream path (issue 17 item 5), without an
// engine competing for the cores: an agent with ENGINE=openai in front of a stand-in upstream that
// streams llama-server-shaped SSE chunks as fast as they are read; clients through the 307. Reads
// the agent process's utime+stime (/proc/<pid>/stat) before and after. Then the time to first token
// the path adds at one stream: streams one at a time, alternately straight to the stand-in and
// through the 307 and the agent (the stand-in answers at once, so the difference is all ours).
//   npx tsx bench/relay-cpu.ts [--streams 200] [--concurrency 4] [--tokens 64] [--ttft-samples 200]
//                              [--first-token-ms 0] [--token-ms 0] [--json out.json]
// --first-token-ms: the stand-in waits that long before its first chunk, as an engine evaluating a
// prompt does (the agent's admission round trip can hide behind it).
// --token-ms: the stand-in waits that long between chunks, as an engine decoding does (each chunk
// then reaches the agent on its own; with 0 they come as fast as they are read, several per read).
// The same streams also go through a pass-through proxy of node:http in its own process (no ticket,
// no parsing): what any Node relay pays on this machine, the floor for the agent's figure.

import { spawn } from 'node:child_process';
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
    // The stand-in's decoding: it waits this long between chunks.
    'token-ms': { type: 'string', default: '0' },
    json: { type: 'string' },
  },
});
const streams = Number(values.streams);
const concurrency = Number(values.concurrency);
const tokens = Number(values.tokens);
const ttftSamples = Number(values['ttft-samples']);
const firstTokenMs = Number(values['first-token-ms']);
const tokenMs = Number(values['token-ms']);
const pause = () => new Promise((r) => (tokenMs > 0 ? setTimeout(r, tokenMs) : setImmediate(r)));

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
      await pause();
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

/** A pass-through proxy of node:http in its own process: the floor of any Node relay here. */
const FLOOR_PROXY = `
const http = require('node:http');
const target = new URL(process.env.TARGET);
const agent = new http.Agent({ keepAlive: true });
const server = http.createServer((req, res) => {
  const up = http.request({ host: target.hostname, port: target.port, path: req.url,
    method: req.method, headers: req.headers, agent }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;

async function startFloorProxy(): Promise<{ url: string; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, ['-e', FLOOR_PROXY], {
    env: { ...process.env, TARGET: upstreamUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`floor proxy exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid as number, stop: () => child.kill() };
}

/** `count` streams, `concurrency` at a time; the tokens relayed. */
async function drive(url: string, count: number): Promise<number> {
  let relayed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) {
        const r = await streamChat(url, body);
        if (!r.sawDone) throw new Error('no [DONE]');
        relayed += r.completionTokens;
      }
    }),
  );
  return relayed;
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
  const relayed = await drive(cluster.url, streams);
  const cpuMs = (cpuSeconds(pid) - cpu0) * 1000;
  const wallMs = performance.now() - started;
  const floor = await startFloorProxy();
  let floorCpuMs: number;
  let floorTokens: number;
  try {
    await drive(floor.url, 20); // warm-up
    const f0 = cpuSeconds(floor.pid);
    floorTokens = await drive(floor.url, streams);
    floorCpuMs = (cpuSeconds(floor.pid) - f0) * 1000;
  } finally {
    floor.stop();
  }
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
    floorCpuMs,
    floorCpuMsPerToken: floorCpuMs / floorTokens,
    loadBefore: load0,
    ttftSamples,
    firstTokenMs,
    tokenMs,
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
  `(per stream: ${tokens} tokens + the job's fixed costs: ticket, admission, job report; the stand-in waits ${tokenMs} ms between chunks)`,
);
console.log(
  `floor, a pass-through proxy of node:http (no ticket, no parsing), the same streams: ${((result.floorCpuMs ?? 0) / 1000).toFixed(2)} CPU s, ${(result.floorCpuMsPerToken ?? 0).toFixed(4)} ms per token`,
);
const ms = (x: number | undefined) => (x ?? Number.NaN).toFixed(1);
console.log(
  `\n| TTFT, one stream at a time (${ttftSamples} each, alternating; the stand-in's first chunk after ${firstTokenMs} ms) | p50 ms | p95 ms |\n|---|---:|---:|\n` +
    `| straight to the stand-in upstream | ${ms(result.directTtftP50)} | ${ms(result.directTtftP95)} |\n` +
    `| client → control plane (307) → agent → stand-in | ${ms(result.routedTtftP50)} | ${ms(result.routedTtftP95)} |\n` +
    `| added by the path | ${ms((result.routedTtftP50 ?? 0) - (result.directTtftP50 ?? 0))} | |`,
);
if (values.json) await writeFile(values.json, JSON.stringify(result, null, 2));
