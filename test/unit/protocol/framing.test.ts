// SSE and NDJSON framing as every reader of a stream sees it (the client, the upstream engine).
import { describe, expect, it } from 'vitest';
import { ndjsonLines, sseData } from '../../../protocol/framing.ts';

/** A body that delivers `chunks` one at a time, as a network would. */
function body(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const queue = chunks.map((c) => (typeof c === 'string' ? new TextEncoder().encode(c) : c));
  return new ReadableStream({
    pull(controller) {
      const next = queue.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

async function all(source: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of source) out.push(item);
  return out;
}

describe('sseData', () => {
  it('yields each data payload, joining multi-line data and skipping comments', async () => {
    const stream = body([': keep-alive\n\n', 'data: {"a":1}\n\nda', 'ta: x\ndata: y\n\n']);
    expect(await all(sseData(stream))).toEqual(['{"a":1}', 'x\ny']);
  });

  it('reads CRLF line ends as LF, also when a CR and its LF arrive in different chunks', async () => {
    const stream = body(['data: one\r\n\r\n', 'data: two\r', '\n\r', '\ndata: [DONE]\r\n\r\n']);
    expect(await all(sseData(stream))).toEqual(['one', 'two', '[DONE]']);
  });

  it('decodes a character split across chunks and drops an unterminated last event', async () => {
    const bytes = new TextEncoder().encode('data: é\n\ndata: cut');
    const stream = body([bytes.slice(0, 7), bytes.slice(7)]);
    expect(await all(sseData(stream))).toEqual(['é']);
  });

  it('yields nothing for a missing body', async () => {
    expect(await all(sseData(null))).toEqual([]);
  });
});

describe('ndjsonLines', () => {
  it('yields each non-blank line without its CR', async () => {
    const stream = body(['{"a":1}\r\n\n{"b"', ':2}\r', '\n{"c":3}']);
    expect(await all(ndjsonLines(stream))).toEqual(['{"a":1}', '{"b":2}']);
  });
});
