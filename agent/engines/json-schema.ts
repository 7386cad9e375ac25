// JSON Schema for the embedded engine's grammar: the subset node-llama-cpp enforces, or a 400.
import type { GbnfJsonSchema } from 'node-llama-cpp';
import { EngineError, type JsonSchema } from './engine.ts';

/**
 * Keywords node-llama-cpp turns into grammar rules (anyOf is enforced as oneOf: a value that
 * matches one branch matches anyOf). Annotations constrain nothing and are accepted.
 */
const ENFORCED = new Set([
  'type',
  'const',
  'enum',
  'oneOf',
  'anyOf',
  'properties',
  'required',
  'additionalProperties',
  'minProperties',
  'maxProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'format',
  '$ref',
  '$defs',
]);
const ANNOTATIONS = new Set([
  'title',
  'description',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
  '$schema',
  '$id',
  '$comment',
]);
const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null']);
const STRING_FORMATS = new Set(['date-time', 'date', 'time']);
/** Deeper schemas are refused rather than risk node-llama-cpp's own nesting limit. */
const MAX_DEPTH = 64;

function refuse(path: string, message: string): never {
  throw new EngineError('invalid_request', `unsupported JSON schema at '${path}': ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The schema node-llama-cpp builds its grammar from, after checking that it can enforce every
 * keyword; throws an `invalid_request` EngineError naming the first keyword it cannot.
 */
export function toGrammarSchema(schema: JsonSchema): GbnfJsonSchema {
  return convert(schema, '#', 0) as GbnfJsonSchema;
}

function convert(schema: unknown, path: string, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) refuse(path, `nested deeper than ${MAX_DEPTH} levels`);
  if (!isObject(schema)) refuse(path, 'a schema must be an object');
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(key)) continue;
    if (!ENFORCED.has(key)) refuse(path, `keyword '${key}' is not supported`);
    out[key] = value;
  }
  const sub = (value: unknown, at: string) => convert(value, at, depth + 1);
  const type = schema.type;
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type];
    for (const t of types) {
      const allowed = Array.isArray(type)
        ? SCALAR_TYPES
        : new Set([...SCALAR_TYPES, 'object', 'array']);
      if (typeof t !== 'string' || !allowed.has(t)) {
        refuse(
          `${path}/type`,
          Array.isArray(type)
            ? `type lists may only name ${[...SCALAR_TYPES].join(', ')} (use anyOf)`
            : `unknown type ${JSON.stringify(t)}`,
        );
      }
    }
  }
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (schema.oneOf !== undefined && schema.anyOf !== undefined) {
    refuse(path, "'oneOf' and 'anyOf' together are not supported");
  }
  if (alternatives !== undefined) {
    const key = schema.oneOf !== undefined ? 'oneOf' : 'anyOf';
    if (!Array.isArray(alternatives) || alternatives.length === 0) {
      refuse(`${path}/${key}`, 'must be a non-empty array');
    }
    delete out.anyOf;
    out.oneOf = alternatives.map((a, i) => sub(a, `${path}/${key}/${i}`));
  }
  const shapes = ['type', 'const', 'enum', 'oneOf', 'anyOf', '$ref'];
  if (!shapes.some((k) => schema[k] !== undefined)) {
    refuse(path, "a schema needs 'type', 'const', 'enum', 'anyOf', 'oneOf' or '$ref'");
  }
  if (schema.enum !== undefined && (!Array.isArray(schema.enum) || schema.enum.length === 0)) {
    refuse(`${path}/enum`, 'must be a non-empty array');
  }
  if (schema.format !== undefined && !STRING_FORMATS.has(String(schema.format))) {
    refuse(`${path}/format`, `format ${JSON.stringify(schema.format)} is not supported`);
  }
  if (typeof schema.$ref === 'string' && !schema.$ref.startsWith('#/$defs/')) {
    refuse(`${path}/$ref`, "only references into '#/$defs/' are supported");
  }
  for (const key of ['properties', '$defs'] as const) {
    const map = schema[key];
    if (map === undefined) continue;
    if (!isObject(map)) refuse(`${path}/${key}`, 'must be an object');
    out[key] = Object.fromEntries(
      Object.entries(map).map(([name, s]) => [name, sub(s, `${path}/${key}/${name}`)]),
    );
  }
  if (isObject(schema.additionalProperties)) {
    out.additionalProperties = sub(schema.additionalProperties, `${path}/additionalProperties`);
  }
  if (schema.items !== undefined) out.items = sub(schema.items, `${path}/items`);
  if (schema.prefixItems !== undefined) {
    if (!Array.isArray(schema.prefixItems)) refuse(`${path}/prefixItems`, 'must be an array');
    out.prefixItems = schema.prefixItems.map((s, i) => sub(s, `${path}/prefixItems/${i}`));
  }
  return out;
}
