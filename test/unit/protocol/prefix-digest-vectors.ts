// Test vectors of the prefix digest (protocol/prefix-digest.ts), shared by every runtime that
// computes it: the Node unit test and the workerd test run the same list.
import type { DigestMessage, PrefixEntry } from '../../../protocol/prefix-digest.ts';

export interface DigestVector {
  name: string;
  body: unknown;
  expected: PrefixEntry[];
}

const system = 'You are a terse assistant. '.repeat(100); // 2,700 characters: 3 blocks
const turn1: DigestMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi' },
];

export const DIGEST_VECTORS: DigestVector[] = [
  {
    name: 'one user message',
    body: { messages: [{ role: 'user', content: 'Hello' }] },
    expected: [{ hash: '511bac64', chars: 10 }],
  },
  {
    name: 'a first turn',
    body: { messages: turn1 },
    expected: [
      { hash: 'f23b04f9', chars: 16 },
      { hash: '3104d20e', chars: 23 },
    ],
  },
  {
    name: 'its second turn (the first turn is its prefix)',
    body: {
      messages: [
        ...turn1,
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'Bye' },
      ],
    },
    expected: [
      { hash: 'f23b04f9', chars: 16 },
      { hash: '3104d20e', chars: 23 },
      { hash: 'e395040c', chars: 39 },
      { hash: '4a940527', chars: 47 },
    ],
  },
  {
    name: 'OpenAI text parts read as the same string',
    body: {
      messages: [
        {
          role: 'system',
          content: [
            { type: 'text', text: 'Be ' },
            { type: 'text', text: 'brief.' },
          ],
        },
        { role: 'user', content: 'Hi' },
      ],
    },
    expected: [
      { hash: 'f23b04f9', chars: 16 },
      { hash: '3104d20e', chars: 23 },
    ],
  },
  {
    name: 'a long system prompt in blocks',
    body: { messages: [{ role: 'system', content: system }] },
    expected: [
      { hash: '267ca65c', chars: 1024 },
      { hash: 'ab0c5404', chars: 2048 },
      { hash: '10268117', chars: 2707 },
    ],
  },
  {
    name: 'non-ASCII text',
    body: { messages: [{ role: 'user', content: 'Grüße, 世界 🌍' }] },
    expected: [{ hash: 'be9c6023', chars: 17 }],
  },
  {
    name: 'a tool call (Ollama arguments object)',
    body: {
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: '',
          tool_calls: [{ function: { name: 'get', arguments: { city: 'Oslo' } } }],
        },
      ],
    },
    expected: [
      { hash: '538048ac', chars: 13 },
      { hash: '14ee8bb6', chars: 43 },
    ],
  },
  {
    name: 'a raw prompt',
    body: { prompt: 'Once upon a time' },
    expected: [{ hash: '929b1c84', chars: 23 }],
  },
  {
    name: 'a raw prompt with a system text',
    body: { prompt: 'Once', system: 'Be brief.' },
    expected: [
      { hash: 'f23b04f9', chars: 16 },
      { hash: '7d5d305c', chars: 27 },
    ],
  },
];
