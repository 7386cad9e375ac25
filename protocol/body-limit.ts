// One request-body limit for every route of both servers, counted as the bytes arrive.
import type { MiddlewareHandler } from 'hono';

/** Control plane: inference bodies are routed, not run; 4 MiB is far beyond any prompt it needs. */
export const CONTROL_PLANE_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Agent: prompts are text; 8 MiB is far beyond any context window. */
export const AGENT_MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * Applies `maxBytes` to the request body of every route it guards, whether the client declared a
 * Content-Length or streams it chunked. Nothing is buffered here: the body becomes a stream that
 * counts bytes as the handler reads them and fails with `tooLarge()` once past the limit (at once
 * when the declared length is already over), so a handler that reads the body gets the server's
 * own 413 error from its read and may act on it (the agent reports the consumed ticket), and a
 * handler that never reads it never pulls more than the socket buffers.
 */
export function limitBody(maxBytes: number, tooLarge: () => Error): MiddlewareHandler {
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const declared = Number(c.req.header('content-length') ?? 0);
    const reader = body.getReader();
    let seen = 0;
    // Never cancels the socket's stream on refusal (that would reset the connection before the
    // 413 is written): it only stops reading; the server drains or closes the rest.
    const refuse = (controller: ReadableStreamDefaultController<Uint8Array>) => {
      controller.error(tooLarge());
      reader.releaseLock();
    };
    const counted = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          if (declared > maxBytes) refuse(controller);
        },
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          seen += value.byteLength;
          if (seen > maxBytes) refuse(controller);
          else controller.enqueue(value);
        },
        cancel(reason) {
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
    // `duplex` is required by Node's fetch for a stream body; workerd ignores it.
    c.req.raw = new Request(c.req.raw, { body: counted, duplex: 'half' } as RequestInit);
    return next();
  };
}
