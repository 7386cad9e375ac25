// `npm start`: a control plane (Node + SQLite) and two agents with the bundled model on loopback,
// one demo answer streamed through the zero-proxy path, then serve until Ctrl-C.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_MODEL, holdEcho, ROOT, releaseEcho, startCluster } from './cluster.ts';
import { streamChat } from './sse.ts';

const cpPort = Number(process.env.PORT || 8080);
const firstAgentPort = Number(process.env.AGENT_PORT || 8081);
const dataDir = join(ROOT, '.data');
mkdirSync(dataDir, { recursive: true, mode: 0o700 });

// A join token kept in .data so agents started by hand can join the same cluster.
const tokenFile = join(dataDir, 'join-token');
if (!existsSync(tokenFile))
  writeFileSync(tokenFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
const joinToken = process.env.JOIN_TOKEN || readFileSync(tokenFile, 'utf8').trim();
// The admin key (admin API and the dashboard's sign-in), kept in .data too.
const adminKeyFile = join(dataDir, 'admin-key');
if (!existsSync(adminKeyFile))
  writeFileSync(adminKeyFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
const adminKey = process.env.ADMIN_KEY || readFileSync(adminKeyFile, 'utf8').trim();

const t0 = performance.now();
console.log('Starting the TitanCompute control plane and 2 agents on 127.0.0.1 …');
const cluster = await startCluster({
  cpPort,
  agentPorts: [firstAgentPort, firstAgentPort + 1],
  dataDir,
  joinToken,
  cpEnv: { ADMIN_KEY: adminKey },
  echo: process.env.QUIET !== '1',
  // The agents' own default: the fastest engine this host has (llama-server once it is built).
  agentChoosesEngine: true,
});
console.log(`\nCluster ready in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);

let shuttingDown = false;
const shutdown = async () => {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log('\nStopping agents and control plane …');
  await cluster.stop();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);

console.log(
  `\nDemo: POST ${cluster.url}/v1/chat/completions → 307 to an agent → tokens stream from the agent\n`,
);
// The processes' log lines wait until the demo answer is printed whole.
holdEcho();
process.stdout.write('> ');
const demo = await streamChat(
  cluster.url,
  {
    model: DEMO_MODEL,
    messages: [{ role: 'user', content: 'In two sentences, what is a GPU?' }],
    max_tokens: 96,
    temperature: 0,
  },
  (t) => process.stdout.write(t),
);
const genMs = demo.totalMs - demo.ttftMs;
console.log(
  `\n\n(time to first token ${demo.ttftMs.toFixed(0)} ms, ${demo.completionTokens} tokens, ` +
    `${((demo.completionTokens * 1000) / Math.max(genMs, 1)).toFixed(1)} tokens/s, finish_reason ${demo.finishReason})`,
);

console.log(`
TitanCompute is serving. Point any OpenAI or Ollama client at ${cluster.url}

  curl -sL ${cluster.url}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"${DEMO_MODEL}","messages":[{"role":"user","content":"Hello"}],"stream":true}'
  curl -s ${cluster.url}/v1/status

Dashboard: ${cluster.url}/dashboard (sign in with the admin key: cat .data/admin-key)

DEVELOPMENT MODE: no API keys (AUTH_MODE=development), loopback only. For a real deployment
see docs/security.md (API keys, join tokens, TLS).

Add an agent:  CONTROL_PLANE_URL=${cluster.url} JOIN_TOKEN=$(cat .data/join-token) npx agent start --port 8083
Press Ctrl-C to stop. Log lines (one JSON object each, with the request id) follow.
`);
releaseEcho();
