// Reads SSE `data:` payloads or NDJSON lines from a fetch body, one string per event.

/** SSE `data:` payloads or NDJSON lines from a fetch body. */
export async function* events(
  body: ReadableStream<Uint8Array> | null,
  ndjson: boolean,
): AsyncGenerator<string> {
  if (!body) return;
  const decoder = new TextDecoder();
  const sep = ndjson ? '\n' : '\n\n';
  let buf = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    for (let end = buf.indexOf(sep); end >= 0; end = buf.indexOf(sep)) {
      const raw = buf.slice(0, end);
      buf = buf.slice(end + sep.length);
      const data = ndjson
        ? raw.trim()
        : raw
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart())
            .join('\n');
      if (data) yield data;
    }
  }
}
