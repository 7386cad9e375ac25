// Admin HTTP routes for models (ls, pull with NDJSON progress, rm, load, unload): loopback only, or AGENT_ADMIN_KEY.
import { type Context, Hono } from 'hono';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { EngineError } from '../engines/engine.ts';
import { secretOrLoopback } from '../http/guard.ts';
import { DownloadError, type Downloader, type DownloadProgress } from './download.ts';
import type { ModelManager } from './manager.ts';
import { pullVariant } from './pull.ts';

export interface ModelAdminDeps {
  manager: ModelManager;
  downloader: Downloader;
  /** A mirror (MODEL_BASE_URL) is configured: pull from it even where a variant has an archive. */
  mirror?: boolean;
  /** When set, every admin request needs `Authorization: Bearer <key>`; else loopback only. */
  adminKey?: string | undefined;
  /** Peer address of the request (default: the Node socket's). */
  remoteAddress?: (c: Context) => string | undefined;
}

/** One line of a pull's NDJSON stream (Ollama-like: status, completed/total bytes). */
export type PullEvent =
  | { status: 'downloading'; tag: string; completed: number; total?: number; resumedFrom: number }
  | { status: 'success'; tag: string; path: string }
  | { status: 'error'; tag: string; code: string; error: string };

const modelBody = z.object({ model: z.string().min(1).max(200) });

export { isLoopback } from '../http/guard.ts';

export function createModelAdminApp(deps: ModelAdminDeps): Hono {
  const app = new Hono();
  app.use(
    '*',
    secretOrLoopback({
      secret: deps.adminKey,
      prefix: 'admin',
      setting: 'AGENT_ADMIN_KEY',
      what: 'admin endpoints',
      remoteAddress: deps.remoteAddress,
    }),
  );

  app.get('/models', async (c) =>
    c.json({
      variants: deps.manager.status(),
      advertised: await deps.manager.listModels(),
      downloading: deps.downloader.active(),
    }),
  );

  app.post('/models/pull', async (c) => {
    const body = modelBody.safeParse(await c.req.json().catch(() => null));
    if (!body.success) return badRequest(c, 'body must be {"model": "<name>-<quant>"}');
    const variant = deps.manager.catalog.resolve(body.data.model)?.pin;
    if (!variant) return notFound(c, `'${body.data.model}' names no variant in the catalog`);
    if (!variant.url && !variant.archive) {
      return badRequest(c, `${variant.tag} has no download URL in the catalog`);
    }
    c.header('content-type', 'application/x-ndjson');
    return stream(c, async (out) => {
      const write = (e: PullEvent) => out.write(`${JSON.stringify(e)}\n`);
      let last = 0;
      const onProgress = (p: DownloadProgress) => {
        // At most one line per MiB, plus the first and the last.
        if (p.receivedBytes - last < 2 ** 20 && p.receivedBytes !== p.totalBytes && last !== 0)
          return;
        last = p.receivedBytes;
        void write({
          status: 'downloading',
          tag: variant.tag,
          completed: p.receivedBytes,
          ...(p.totalBytes !== undefined ? { total: p.totalBytes } : {}),
          resumedFrom: p.resumedFromBytes,
        });
      };
      const ac = new AbortController();
      out.onAbort(() => ac.abort());
      try {
        const path = await pullVariant(deps.downloader, variant, {
          onProgress,
          signal: ac.signal,
          preferUrl: deps.mirror === true,
        });
        deps.manager.invalidate(variant.tag);
        await write({ status: 'success', tag: variant.tag, path });
      } catch (err) {
        const code = err instanceof DownloadError ? err.code : 'pull_failed';
        await write({ status: 'error', tag: variant.tag, code, error: (err as Error).message });
      }
    });
  });

  app.delete('/models/:tag', async (c) => {
    try {
      return c.json({ removed: await deps.manager.remove(c.req.param('tag')) });
    } catch (err) {
      return engineError(c, err);
    }
  });

  for (const action of ['load', 'unload'] as const) {
    app.post(`/models/${action}`, async (c) => {
      const body = modelBody.safeParse(await c.req.json().catch(() => null));
      if (!body.success) return badRequest(c, 'body must be {"model": "<name>"}');
      try {
        if (action === 'unload')
          return c.json({ unloaded: await deps.manager.unload(body.data.model) });
        const variant = await deps.manager.resolve(body.data.model);
        await deps.manager.ensureLoaded(variant.tag);
        return c.json({ loaded: variant.tag });
      } catch (err) {
        return engineError(c, err);
      }
    });
  }
  return app;
}

function badRequest(c: Context, message: string) {
  return c.json({ error: { code: 'invalid_request', message } }, 400);
}

function notFound(c: Context, message: string) {
  return c.json({ error: { code: 'model_not_found', message } }, 404);
}

function engineError(c: Context, err: unknown) {
  if (err instanceof EngineError) {
    const status =
      err.code === 'model_not_found' ? 404 : err.code === 'engine_unavailable' ? 409 : 500;
    return c.json({ error: { code: err.code, message: err.message } }, status);
  }
  throw err;
}
