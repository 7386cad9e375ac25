// A browser page on one origin streams an answer from the control plane on another, in headless
// Chromium: the preflight, the 307 to the agent (a third origin, reached with `Origin: null`), the
// agent's preflight and its SSE stream, in development mode and with an API key (real processes).

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, DEMO_MODEL, startCluster } from '../../scripts/cluster.ts';
import { freePort } from '../e2e/support/ports.ts';
import { launchBrowser, screenshot } from './support.ts';

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>TitanCompute from a page</title>
<style>body{font:16px sans-serif;margin:2em}pre{background:#eee;padding:1em;white-space:pre-wrap}</style>
</head><body><h1>Streamed through the control plane</h1><p id="where"></p><pre id="answer"></pre></body></html>`;

/** A static server for the page: its own loopback port, so its own origin. */
async function servePage(): Promise<{ origin: string; server: Server }> {
  const port = await freePort();
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  return { origin: `http://127.0.0.1:${port}`, server };
}

interface PageResult {
  status: number;
  /** Where the answer came from after the redirect (the agent's URL). */
  url: string;
  redirected: boolean;
  contentType: string | null;
  text: string;
  deltas: number;
  done: boolean;
  error?: string;
}

/** Runs in the page: fetch the control plane, follow its 307, read the SSE stream as it comes. */
async function streamFromPage(args: {
  controlPlane: string;
  model: string;
  key: string | undefined;
}): Promise<PageResult> {
  // The page's globals (this file is typed without the DOM library).
  const page = globalThis as unknown as {
    document: { getElementById(id: string): { textContent: string | null } };
    location: { origin: string };
  };
  const answer = page.document.getElementById('answer');
  const where = page.document.getElementById('where');
  where.textContent = `${page.location.origin} → ${args.controlPlane}`;
  try {
    const res = await fetch(`${args.controlPlane}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(args.key ? { authorization: `Bearer ${args.key}` } : {}),
      },
      body: JSON.stringify({
        model: args.model,
        messages: [{ role: 'user', content: 'Say hello to the browser.' }],
        max_tokens: 12,
        temperature: 0,
        stream: true,
      }),
    });
    const result: PageResult = {
      status: res.status,
      url: res.url,
      redirected: res.redirected,
      contentType: res.headers.get('content-type'),
      text: '',
      deltas: 0,
      done: false,
    };
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      const events = buffered.split('\n\n');
      buffered = events.pop() ?? '';
      for (const event of events) {
        const data = event.replace(/^data: /, '');
        if (data === '[DONE]') {
          result.done = true;
          continue;
        }
        const content = JSON.parse(data).choices?.[0]?.delta?.content;
        if (content) {
          result.deltas++;
          result.text += content;
          answer.textContent = result.text;
        }
      }
    }
    return result;
  } catch (err) {
    return {
      status: 0,
      url: '',
      redirected: false,
      contentType: null,
      text: '',
      deltas: 0,
      done: false,
      error: String(err),
    };
  }
}

let browser: Browser;
let page: { origin: string; server: Server };
let other: { origin: string; server: Server };

beforeAll(async () => {
  browser = await launchBrowser();
  page = await servePage();
  other = await servePage();
});

afterAll(async () => {
  await browser?.close();
  page?.server.close();
  other?.server.close();
});

for (const mode of ['development', 'keys'] as const) {
  describe(`a page on another origin, ${mode} mode`, () => {
    let cluster: Cluster;
    let dataDir: string;

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), `titan-browser-${mode}-`));
      cluster = await startCluster({
        cpPort: await freePort(),
        agentPorts: [await freePort()],
        dataDir,
        joinToken: 'browser-join-token',
        maxConcurrentJobs: 2,
        ...(mode === 'keys'
          ? {
              cpEnv: {
                AUTH_MODE: 'keys',
                ADMIN_KEY: 'browser-admin-key-0123456789abcdef',
                CORS_ORIGINS: page.origin,
              },
            }
          : {}),
      });
    });

    afterAll(async () => {
      await cluster?.stop();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('streams an answer through the 307 to the agent', async () => {
      const tab = await browser.newPage();
      try {
        await tab.goto(page.origin);
        const result = await tab.evaluate(streamFromPage, {
          controlPlane: cluster.url,
          model: DEMO_MODEL,
          key: cluster.apiKey,
        });
        expect(result.error).toBeUndefined();
        expect(result.status).toBe(200);
        expect(result.redirected).toBe(true);
        expect(result.url.startsWith(`${cluster.agentUrls[0]}/v1/chat/completions?`)).toBe(true);
        expect(result.contentType).toContain('text/event-stream');
        expect(result.deltas).toBeGreaterThan(0);
        expect(result.done).toBe(true);
        expect(await tab.textContent('#answer')).toBe(result.text);
        await screenshot(tab, `cors-${mode}`);
      } finally {
        await tab.close();
      }
    });

    if (mode === 'keys') {
      it('a page on an origin not in CORS_ORIGINS cannot read the answer', async () => {
        const tab = await browser.newPage();
        try {
          await tab.goto(other.origin);
          const result = await tab.evaluate(streamFromPage, {
            controlPlane: cluster.url,
            model: DEMO_MODEL,
            key: cluster.apiKey,
          });
          expect(result.error).toContain('TypeError');
        } finally {
          await tab.close();
        }
      });
    }
  });
}
