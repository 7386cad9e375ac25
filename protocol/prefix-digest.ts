// The prefix digest: a request's messages (or prompt) hashed as a chain, so that requests sharing
// their first k messages share their first k hashes on every runtime, without a tokenizer. The
// client, the control plane (Node and Workers) and the agent compute it; docs/adr/0013.
import { z } from 'zod';

/** A long message gets a chain entry at every this many characters of its canonical text. */
export const PREFIX_BLOCK_CHARS = 1024;
/** Entries a request's digest carries at most (256 KiB of prompt at the block size). */
export const MAX_PREFIX_ENTRIES = 256;
/** Hashes an agent reports in a heartbeat or job report at most (~450 bytes of JSON). */
export const MAX_HELD_PREFIXES = 48;

/** 32 bits of SHA-256, hex: a routing preference, not an identity (a collision costs a cache miss). */
export const PREFIX_HASH = /^[0-9a-f]{8}$/;

/** One link of the chain: its hash and the canonical characters it covers from the start. */
export interface PrefixEntry {
  hash: string;
  chars: number;
}

export const prefixEntrySchema = z.object({
  hash: z.string().regex(PREFIX_HASH),
  chars: z.number().int().positive().max(1e9),
});
/** A request's digest as `POST /v1/route` takes it (`prefix`), in chain order. */
export const prefixDigestSchema = z.array(prefixEntrySchema).max(MAX_PREFIX_ENTRIES);
/** What an agent holds: chain hashes, most recently used first. */
export const heldPrefixesSchema = z.array(z.string().regex(PREFIX_HASH)).max(MAX_HELD_PREFIXES);

/** A chat message as any dialect carries it; only what reaches the prompt is read. */
export interface DigestMessage {
  role: string;
  content?: unknown;
  tool_calls?: unknown;
}

/** Text of OpenAI content (a string, or parts of which the text ones count) or Ollama's string. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((p) =>
      p && typeof p === 'object' && 'text' in p && typeof p.text === 'string' ? p.text : '',
    )
    .join('');
}

/** `name arguments` per call; arguments as the client sent them (a JSON string or an object). */
function toolCallsText(calls: unknown): string {
  if (!Array.isArray(calls)) return '';
  return calls
    .map((c) => {
      const fn = (c as { function?: { name?: unknown; arguments?: unknown } })?.function;
      const args = typeof fn?.arguments === 'string' ? fn.arguments : JSON.stringify(fn?.arguments);
      return `\n${String(fn?.name ?? '')} ${args ?? ''}`;
    })
    .join('');
}

/** The canonical text of one message: its role, a newline, its text, then its tool calls. */
export function canonicalMessage(m: DigestMessage): string {
  return `${m.role}\n${contentText(m.content)}${toolCallsText(m.tool_calls)}`;
}

const encoder = new TextEncoder();

interface NodeCrypto {
  createHash(algorithm: 'sha256'): { update(data: Uint8Array): { digest(): Uint8Array } };
}
/**
 * node:crypto where the runtime has it (Node; workerd with nodejs_compat): its SHA-256 answers at
 * once, while WebCrypto's resolves on a later event-loop turn — behind every queued heartbeat on a
 * busy control plane (20 ms of the 307's 39 ms p50 at 50 requests/s, docs/benchmarks.md). Browsers
 * use WebCrypto. The test vectors pin both to the same hashes.
 */
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;

async function sha256(data: ReturnType<typeof encoder.encode>): Promise<Uint8Array> {
  if (nodeCrypto) return nodeCrypto.createHash('sha256').update(data).digest();
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}

async function link(prev: string, kind: 'message' | 'block', text: string): Promise<string> {
  // \u0001 starts a message, \u0002 continues one: a block never hashes like a message start.
  const data = encoder.encode(`${prev}${kind === 'message' ? '\u0001' : '\u0002'}${text}`);
  const digest = await sha256(data);
  let hex = '';
  for (let i = 0; i < 4; i++) hex += (digest[i] as number).toString(16).padStart(2, '0');
  return hex;
}

/** Cuts at every PREFIX_BLOCK_CHARS code units, never inside a surrogate pair. */
function blocks(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + PREFIX_BLOCK_CHARS);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end++;
    out.push(text.slice(start, end));
    start = end;
  }
  return out.length > 0 ? out : [''];
}

/**
 * Extends a chain (`after`: its entries so far, [] for a new one) with messages: one entry at
 * every block boundary inside a message and one at its end. Stops at MAX_PREFIX_ENTRIES.
 */
export async function extendDigest(
  after: readonly PrefixEntry[],
  messages: readonly DigestMessage[],
): Promise<PrefixEntry[]> {
  const out = [...after];
  let prev = after.at(-1) ?? { hash: '', chars: 0 };
  for (const m of messages) {
    const parts = blocks(canonicalMessage(m));
    for (const [i, text] of parts.entries()) {
      if (out.length >= MAX_PREFIX_ENTRIES) return out;
      prev = {
        hash: await link(prev.hash, i === 0 ? 'message' : 'block', text),
        chars: prev.chars + Math.max(1, text.length),
      };
      out.push(prev);
    }
  }
  return out;
}

/** The digest of a chat (`messages`) or of a raw prompt (as a `prompt` message after `system`). */
export function prefixDigest(
  input: { messages: readonly DigestMessage[] } | { prompt: string; system?: string | null },
): Promise<PrefixEntry[]> {
  if ('messages' in input) return extendDigest([], input.messages);
  const messages: DigestMessage[] = [];
  if (input.system) messages.push({ role: 'system', content: input.system });
  messages.push({ role: 'prompt', content: input.prompt });
  return extendDigest([], messages);
}

/**
 * The digest of an inference body in any dialect (OpenAI chat/completions, Ollama chat/generate),
 * read loosely: undefined when it has neither messages nor a single prompt (embeddings, batches).
 */
export function digestOfBody(body: unknown): Promise<PrefixEntry[]> | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { messages?: unknown; prompt?: unknown; system?: unknown };
  if (Array.isArray(b.messages)) {
    const messages = b.messages.filter(
      (m): m is DigestMessage => !!m && typeof m === 'object' && typeof m.role === 'string',
    );
    return messages.length > 0 ? prefixDigest({ messages }) : undefined;
  }
  const prompt = Array.isArray(b.prompt) && b.prompt.length === 1 ? b.prompt[0] : b.prompt;
  if (typeof prompt !== 'string') return undefined;
  return prefixDigest({ prompt, system: typeof b.system === 'string' ? b.system : null });
}

/**
 * How much of a request's chain a holder of `held` has: the longest entry it holds (a chain hash
 * stands for everything before it). `share` is the matched characters over the request's.
 */
export function matchPrefix(
  digest: readonly PrefixEntry[],
  held: ReadonlySet<string>,
): { entries: number; chars: number; share: number } {
  const total = digest.at(-1)?.chars ?? 0;
  for (let i = digest.length - 1; i >= 0; i--) {
    const e = digest[i] as PrefixEntry;
    if (held.has(e.hash))
      return { entries: i + 1, chars: e.chars, share: total ? e.chars / total : 0 };
  }
  return { entries: 0, chars: 0, share: 0 };
}
