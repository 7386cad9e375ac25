// Request bodies: the size limit on every route (413) and JSON reading and validation (400).
import type { Context } from 'hono';
import type { z } from 'zod';
import { limitBody } from '../../protocol/body-limit.ts';
import { ApiError } from './errors.ts';

/** The shared body limit with the control plane's 413 error. */
export function limitBodyTo(maxBytes: number, what = 'Request body') {
  return limitBody(
    maxBytes,
    () => new ApiError('payload_too_large', `${what} over ${maxBytes} bytes`),
  );
}

/** Invalid byte sequences are refused, not silently replaced with U+FFFD. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export async function readJson(c: Context): Promise<unknown> {
  let bytes: ArrayBuffer;
  try {
    bytes = await c.req.arrayBuffer();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError('invalid_request', 'Could not read the request body');
  }
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    throw new ApiError('invalid_json', 'The request body is not valid UTF-8');
  }
  if (text.trim() === '')
    throw new ApiError('invalid_json', 'The request body is empty; send JSON');
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('invalid_json', 'The request body is not valid JSON');
  }
}

export async function readBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const parsed = schema.safeParse(await readJson(c));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : undefined;
    throw new ApiError(
      'invalid_request',
      `Invalid request body${where ? ` at '${where}'` : ''}: ${issue?.message ?? 'bad value'}`,
      where ? { param: where } : {},
    );
  }
  return parsed.data;
}
