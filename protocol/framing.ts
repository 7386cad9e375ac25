// How streamed answers are framed on the wire: server-sent events (OpenAI's streams) and NDJSON
// (Ollama's streams, the agent's model pulls), read from a fetch body one message at a time.

/** Each `data:` payload of a server-sent event stream (events with none are skipped). */
export async function* sseData(body: ReadableStream<Uint8Array> | null): AsyncGenerator<string> {
  for await (const event of frames(body, '\n\n')) {
    // The usual event, one `data:` line, without the general path's arrays (once per token).
    if (event.startsWith('data:') && !event.includes('\n')) {
      const data = event.slice(5).trimStart();
      if (data) yield data;
      continue;
    }
    const data = event
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (data) yield data;
  }
}

/** Each non-blank line of an NDJSON stream, trimmed. */
export async function* ndjsonLines(
  body: ReadableStream<Uint8Array> | null,
): AsyncGenerator<string> {
  for await (const line of frames(body, '\n')) {
    const trimmed = line.trim();
    if (trimmed) yield trimmed;
  }
}

/**
 * The text between separators, decoded as UTF-8 across chunk boundaries, with CRLF line ends read
 * as LF (also when the CR and the LF arrive in different chunks). An unterminated tail is dropped.
 */
async function* frames(
  body: ReadableStream<Uint8Array> | null,
  sep: string,
): AsyncGenerator<string> {
  if (!body) return;
  const decoder = new TextDecoder();
  let buf = '';
  for await (const bytes of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(bytes, { stream: true });
    if (buf.includes('\r')) buf = buf.replace(/\r\n/g, '\n');
    for (let end = buf.indexOf(sep); end >= 0; end = buf.indexOf(sep)) {
      yield buf.slice(0, end);
      buf = buf.slice(end + sep.length);
    }
  }
}
