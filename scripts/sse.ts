// Times a chat completion streamed through the control plane (following the 307), for npm start,
// the end-to-end tests and the benchmarks.
import { sseData } from '../protocol/framing.ts';

export { sseData };

export interface StreamResult {
  text: string;
  ttftMs: number;
  totalMs: number;
  completionTokens: number;
  finishReason: string | null;
  sawDone: boolean;
}

/** Streams a chat completion through `baseUrl` (following the 307) and times it. */
export async function streamChat(
  baseUrl: string,
  body: Record<string, unknown>,
  onToken: (t: string) => void = () => {},
): Promise<StreamResult> {
  const started = performance.now();
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const out: StreamResult = {
    text: '',
    ttftMs: Number.NaN,
    totalMs: 0,
    completionTokens: 0,
    finishReason: null,
    sawDone: false,
  };
  for await (const data of sseData(res.body)) {
    if (data === '[DONE]') {
      out.sawDone = true;
      break;
    }
    const chunk = JSON.parse(data) as {
      error?: { message: string };
      choices?: { delta?: { content?: string }; finish_reason?: string | null }[];
      usage?: { completion_tokens: number } | null;
    };
    if (chunk.error) throw new Error(`stream error: ${chunk.error.message}`);
    const choice = chunk.choices?.[0];
    const token = choice?.delta?.content;
    if (token) {
      if (Number.isNaN(out.ttftMs)) out.ttftMs = performance.now() - started;
      out.text += token;
      onToken(token);
    }
    if (choice?.finish_reason) out.finishReason = choice.finish_reason;
    if (chunk.usage) out.completionTokens = chunk.usage.completion_tokens;
  }
  out.totalMs = performance.now() - started;
  return out;
}
