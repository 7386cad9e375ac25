// Ticket enforcement on inference routes: every bad ticket is a 401 with a precise code.
import { describe, expect, it } from 'vitest';
import { createAgentApp } from '../../../agent/app.ts';
import { FakeEngine } from '../../../agent/engines/fake.ts';
import { DeferredTicketVerifier } from '../../../agent/tickets.ts';
import { chatBody, MODEL, makeAgent, makeSigningKey, post, signTicket } from './helpers.ts';

async function expect401(res: Response, code: string): Promise<void> {
  expect(res.status).toBe(401);
  const body = (await res.json()) as { error: Record<string, unknown> };
  expect(body.error).toMatchObject({ type: 'authentication_error', code });
  expect(body.error).toHaveProperty('param');
  expect(typeof body.error.message).toBe('string');
}

describe('inference routes require a valid ticket', () => {
  it('401 ticket_missing without a ticket; the engine never runs', async () => {
    const agent = await makeAgent();
    const res = await post(agent, '/v1/chat/completions', chatBody(), undefined);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: {
        message: 'this endpoint requires a ticket',
        type: 'authentication_error',
        code: 'ticket_missing',
        param: null,
      },
    });
    expect(agent.engine.requests).toHaveLength(0);
    expect(agent.reports).toHaveLength(0);
  });

  it('401 ticket_expired for an expired ticket', async () => {
    const agent = await makeAgent();
    const ticket = await agent.ticket({ expIn: -120, iatOffset: -400 });
    await expect401(
      await post(agent, '/v1/chat/completions', chatBody(), ticket),
      'ticket_expired',
    );
  });

  it('401 ticket_wrong_audience for a ticket bound to another agent', async () => {
    const agent = await makeAgent();
    const ticket = await agent.ticket({ aud: 'other-agent' });
    const res = await post(agent, '/v1/chat/completions', chatBody(), ticket);
    await expect401(res, 'ticket_wrong_audience');
  });

  it('401 ticket_wrong_issuer for a foreign issuer', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody(),
      await agent.ticket({ iss: 'http://evil' }),
    );
    await expect401(res, 'ticket_wrong_issuer');
  });

  it('401 ticket_model_mismatch when the body asks for another model, reported rejected', async () => {
    const agent = await makeAgent();
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody(),
      await agent.ticket({ model: 'other-model' }),
    );
    await expect401(res, 'ticket_model_mismatch');
    expect(agent.reports[0]?.report).toMatchObject({ outcome: 'rejected', model: 'other-model' });
    expect(agent.engine.requests).toHaveLength(0);
  });

  it('401 ticket_invalid for a tampered payload or signature', async () => {
    const agent = await makeAgent();
    const [header, payload, signature] = (await agent.ticket()).split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString());
    claims.model = 'bigger-model';
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    const res = await post(
      agent,
      '/v1/chat/completions',
      chatBody({ model: 'bigger-model' }),
      forged,
    );
    await expect401(res, 'ticket_invalid');
    const badSig = `${header}.${payload}.${(signature ?? '').slice(0, -4)}AAAA`;
    await expect401(
      await post(agent, '/v1/chat/completions', chatBody(), badSig),
      'ticket_invalid',
    );
    await expect401(
      await post(agent, '/v1/chat/completions', chatBody(), 'not-a-jwt'),
      'ticket_invalid',
    );
  });

  it('401 ticket_unknown_key for a ticket signed by a key outside the JWKS', async () => {
    const agent = await makeAgent();
    const stranger = await makeSigningKey('k-unknown');
    const ticket = await signTicket(stranger);
    await expect401(
      await post(agent, '/v1/chat/completions', chatBody(), ticket),
      'ticket_unknown_key',
    );
  });

  it('401 ticket_replayed when a ticket is used twice', async () => {
    const agent = await makeAgent();
    const ticket = await agent.ticket();
    expect((await post(agent, '/v1/chat/completions', chatBody(), ticket)).status).toBe(200);
    await expect401(
      await post(agent, '/v1/chat/completions', chatBody(), ticket),
      'ticket_replayed',
    );
    expect(agent.reports).toHaveLength(1);
  });

  it('accepts the ticket as Authorization: Bearer too', async () => {
    const agent = await makeAgent();
    const res = await post(agent, '/v1/chat/completions', chatBody(), undefined, {
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await agent.ticket()}`,
      },
    });
    expect(res.status).toBe(200);
  });

  it('prefers ?ticket= over an Authorization header (an API key left over)', async () => {
    const agent = await makeAgent();
    const res = await post(agent, '/v1/chat/completions', chatBody(), await agent.ticket(), {
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client-key' },
    });
    expect(res.status).toBe(200);
  });

  it('503 verifier_not_ready before the agent has registered', async () => {
    const app = createAgentApp({
      engine: new FakeEngine({ models: [MODEL] }),
      tickets: new DeferredTicketVerifier(),
      config: { agentId: 'a', maxConcurrentJobs: 1 },
    });
    const res = await app.request('/api/generate?ticket=x', {
      method: 'POST',
      body: JSON.stringify({ model: MODEL, prompt: 'hi' }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toEqual({
      error: 'agent has not registered with the control plane',
    });
  });
});
