// The client's native path routes by cache without sending the prompt: /v1/route gets the digest.
import { describe, expect, it } from 'vitest';
import { TitanClient } from '../../../client/titan-client.ts';
import { prefixDigest } from '../../../protocol/prefix-digest.ts';

describe('TitanClient route call', () => {
  it('sends the model and the prefix digest to /v1/route, and the messages only to the agent', async () => {
    const calls: { url: string; body: Record<string, unknown> }[] = [];
    const fetch = async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input instanceof Request ? input.url : input);
      calls.push({ url, body: JSON.parse(String(init?.body)) });
      if (url.endsWith('/v1/route')) {
        // A ticket-shaped token: the client reads its jti.
        const payload = btoa(JSON.stringify({ jti: 'j1' })).replace(/=+$/, '');
        return Response.json({
          agent: { id: 'a1', url: 'http://agent.test' },
          ticket: `h.${payload}.s`,
        });
      }
      return Response.json({ choices: [{ message: { content: 'hi' } }] });
    };
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'A private question' },
    ];
    const client = new TitanClient({ baseUrl: 'http://cp.test', fetch });
    const { agentId } = await client.request('/v1/chat/completions', { model: 'm', messages });
    expect(agentId).toBe('a1');
    const route = calls.find((c) => c.url.endsWith('/v1/route'));
    expect(route?.body).toEqual({
      model: 'm',
      exclude: [],
      prefix: await prefixDigest({ messages }),
    });
    expect(JSON.stringify(route?.body)).not.toContain('private');
    expect(calls.find((c) => c.url.startsWith('http://agent.test'))?.body.messages).toEqual(
      messages,
    );
  });
});
