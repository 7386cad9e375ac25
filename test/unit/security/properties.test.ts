// Property tests (fast-check): request validation on both servers and ticket parsing on the agent.
import fc from 'fast-check';
import { createLocalJWKSet } from 'jose';
import { describe, expect, it } from 'vitest';
import { AgentHttpError } from '../../../agent/http/errors.ts';
import { parseBody } from '../../../agent/http/schemas.ts';
import { createTicketVerifier, TicketError } from '../../../agent/tickets.ts';
import { ApiError } from '../../../control-plane/core/errors.ts';
import { createTicketSigner, generatePrivateKeyPem } from '../../../control-plane/core/tickets.ts';
import {
  type InferenceDialect,
  inferenceLimits,
} from '../../../control-plane/core/validation/inference.ts';
import {
  ollamaChatBody,
  openAIChatBody,
  openAICompletionBody,
} from '../../../protocol/inference.ts';

const CAP = 4096;
const dialects: InferenceDialect[] = [
  'openai-chat',
  'openai-completion',
  'ollama-chat',
  'ollama-generate',
  'route',
];
const anyJson = fc.oneof(fc.jsonValue(), fc.object(), fc.constant(null));

describe('control-plane request validation', () => {
  it('either yields a model and 1..cap tokens, or a 400 naming the problem', () => {
    fc.assert(
      fc.property(fc.constantFrom(...dialects), anyJson, (dialect, raw) => {
        try {
          const { model, maxTokens } = inferenceLimits(dialect, raw, CAP);
          expect(model.length).toBeGreaterThan(0);
          expect(Number.isInteger(maxTokens) && maxTokens >= 1 && maxTokens <= CAP).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(ApiError);
          expect((err as ApiError).status).toBe(400);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('puts exactly the requested max_tokens in the ticket, and refuses any above the cap', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 2 * CAP }),
        fc.constantFrom('max_tokens', 'max_completion_tokens'),
        (model, asked, field) => {
          const body = { model, messages: [{ role: 'user', content: 'hi' }], [field]: asked };
          if (asked > CAP) {
            expect(() => inferenceLimits('openai-chat', body, CAP)).toThrow(ApiError);
          } else {
            expect(inferenceLimits('openai-chat', body, CAP)).toEqual({ model, maxTokens: asked });
          }
        },
      ),
    );
  });
});

describe('agent request validation', () => {
  it('parses or answers a 400 invalid_request, for any JSON on any route', () => {
    const schemas = [openAIChatBody, openAICompletionBody, ollamaChatBody] as const;
    fc.assert(
      fc.property(fc.constantFrom(...schemas), anyJson, (schema, raw) => {
        try {
          const body = parseBody(schema as never, raw) as { model: string };
          expect(typeof body.model).toBe('string');
        } catch (err) {
          expect(err).toBeInstanceOf(AgentHttpError);
          expect((err as AgentHttpError).status).toBe(400);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('ticket parsing on the agent', async () => {
  const signer = await createTicketSigner({
    issuer: 'cp',
    privateKeyPem: await generatePrivateKeyPem('ES256'),
    alg: 'ES256',
  });
  const verifier = createTicketVerifier({
    audience: 'agent-1',
    issuer: 'cp',
    keys: createLocalJWKSet(signer.jwks()),
    registeredAt: 0,
  });
  const now = Date.now();
  const valid = await signer.sign({
    sub: 'key_1',
    aud: 'agent-1',
    jti: 'jti-1',
    model: 'm',
    maxTokens: 64,
    issuedAtMs: now,
    expiresAtMs: now + 60_000,
    registration: 0,
  });

  const rejects = async (token: string) => {
    const outcome = await verifier.verify(token).then(
      () => 'accepted',
      (err: unknown) => (err instanceof TicketError ? err.code : `threw ${String(err)}`),
    );
    expect(outcome.startsWith('ticket_')).toBe(true);
  };

  it('accepts the genuine ticket', async () => {
    expect(await verifier.verify(valid)).toMatchObject({
      max_tokens: 64,
      model: 'm',
      sub: 'key_1',
    });
  });

  it('refuses any string with a ticket error, never another exception', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 600 }), rejects), { numRuns: 300 });
    const parts = fc.string({ unit: fc.constantFrom(...'AZaz09-_.'.split('')), maxLength: 80 });
    await fc.assert(
      fc.asyncProperty(parts, parts, parts, (a, b, c) => rejects(`${a}.${b}.${c}`)),
      { numRuns: 300 },
    );
  });

  it('refuses every single-character change of a genuine ticket', async () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: valid.length - 1 }),
        fc.constantFrom(...alphabet.split('')),
        async (at, ch) => {
          const changed = valid.slice(0, at) + ch + valid.slice(at + 1);
          // Base64url's last character may carry unused bits: skip changes that decode the same.
          const same = changed.split('.').every((seg, i) => {
            const orig = valid.split('.')[i] ?? '';
            return Buffer.from(seg, 'base64url').equals(Buffer.from(orig, 'base64url'));
          });
          fc.pre(!same && valid[at] !== '.');
          await rejects(changed);
        },
      ),
      { numRuns: 300 },
    );
  });
});
