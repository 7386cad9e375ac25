// The one dialect layer both servers answer with: which dialect a path speaks, and its error body.
import { describe, expect, it } from 'vitest';
import { errorBodyFor, isOllamaPath, openAIErrorType } from '../../../protocol/dialects.ts';

describe('dialects', () => {
  it('reads paths under /api/ as Ollama and every other path as OpenAI', () => {
    expect(isOllamaPath('/api/chat')).toBe(true);
    expect(isOllamaPath('/api/generate')).toBe(true);
    expect(isOllamaPath('/v1/chat/completions')).toBe(false);
    expect(isOllamaPath('/apix/chat')).toBe(false);
  });

  it.each([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [404, 'invalid_request_error'],
    [409, 'invalid_request_error'],
    [413, 'invalid_request_error'],
    [429, 'rate_limit_error'],
    [500, 'server_error'],
    [503, 'server_error'],
  ])('types status %i as %s', (status, type) => {
    expect(openAIErrorType(status)).toBe(type);
  });

  it('answers in the envelope of the path: an object for OpenAI, a string for Ollama', () => {
    const err = { message: 'no such model', status: 404, code: 'model_not_found', param: 'model' };
    expect(errorBodyFor('/v1/chat/completions', err)).toEqual({
      error: {
        message: 'no such model',
        type: 'invalid_request_error',
        param: 'model',
        code: 'model_not_found',
      },
    });
    expect(errorBodyFor('/api/chat', err)).toEqual({ error: 'no such model' });
  });
});
