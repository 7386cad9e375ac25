// The embedded engine's JSON schema check: what node-llama-cpp enforces passes, the rest is named.
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../../agent/engines/engine.ts';
import { toGrammarSchema } from '../../../../agent/engines/json-schema.ts';

describe('toGrammarSchema', () => {
  it('keeps enforced keywords, drops annotations and enforces anyOf as oneOf', () => {
    const out = toGrammarSchema({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'Person',
      type: 'object',
      properties: {
        name: { type: 'string', description: 'full name', maxLength: 40 },
        born: { type: 'string', format: 'date' },
        tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 3 },
        pet: { anyOf: [{ type: 'null' }, { $ref: '#/$defs/pet' }] },
      },
      required: ['name'],
      additionalProperties: false,
      $defs: { pet: { type: 'object', properties: { kind: { const: 'cat' } } } },
    });
    expect(out).toEqual({
      type: 'object',
      properties: {
        name: { type: 'string', maxLength: 40 },
        born: { type: 'string', format: 'date' },
        tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 3 },
        pet: { oneOf: [{ type: 'null' }, { $ref: '#/$defs/pet' }] },
      },
      required: ['name'],
      additionalProperties: false,
      $defs: { pet: { type: 'object', properties: { kind: { const: 'cat' } } } },
    });
  });

  it.each([
    [{ type: 'string', pattern: '^a' }, "'#': keyword 'pattern'"],
    [
      { type: 'object', properties: { n: { type: 'number', minimum: 0 } } },
      "'#/properties/n': keyword 'minimum'",
    ],
    [{ allOf: [{ type: 'string' }] }, "keyword 'allOf'"],
    [{ type: 'string', format: 'email' }, '\'#/format\': format "email"'],
    [{ type: ['object', 'null'] }, "'#/type': type lists"],
    [{ type: 'tuple' }, 'unknown type "tuple"'],
    [{ description: 'anything' }, "a schema needs 'type'"],
    [{ $ref: '#/definitions/x' }, "only references into '#/$defs/'"],
    [{ type: 'array', items: 'string' }, "'#/items': a schema must be an object"],
  ])('%j is refused, naming %s', (schema, named) => {
    let thrown: unknown;
    try {
      toGrammarSchema(schema);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(EngineError);
    expect((thrown as EngineError).code).toBe('invalid_request');
    expect((thrown as EngineError).message).toContain(named);
  });

  it('refuses schemas nested past the depth limit', () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 100; i++) schema = { type: 'array', items: schema };
    expect(() => toGrammarSchema(schema)).toThrow(/nested deeper/);
  });
});
