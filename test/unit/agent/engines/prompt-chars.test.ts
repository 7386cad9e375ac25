// Issue 13, finding 7: the llama.cpp engine refuses a prompt that cannot fit its context by its
// character count, before tokenising it (node-llama-cpp tokenises synchronously).
import { describe, expect, it } from 'vitest';
import { EngineError, type GenerateRequest } from '../../../../agent/engines/engine.ts';
import { assertPromptChars, MAX_CHARS_PER_TOKEN } from '../../../../agent/engines/llama-cpp.ts';

const chat = (content: string): GenerateRequest => ({
  model: 'm',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content },
  ],
});

describe('assertPromptChars', () => {
  it('refuses a 6 MiB chat prompt for a 2048-token context, naming characters', () => {
    const refused = (() => {
      try {
        assertPromptChars(chat('x'.repeat(6 * 1024 * 1024)), 2048);
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(EngineError);
    expect(refused).toMatchObject({ code: 'invalid_request' });
    expect((refused as Error).message).toMatch(/6291465 characters.*at most 65536/);
  });

  it('lets through anything that could fit, counting every message and raw prompts', () => {
    const limit = 512 * MAX_CHARS_PER_TOKEN;
    expect(() => assertPromptChars(chat('x'.repeat(limit - 9)), 512)).not.toThrow();
    expect(() => assertPromptChars(chat('x'.repeat(limit - 8)), 512)).toThrow(/characters/);
    expect(() => assertPromptChars({ model: 'm', prompt: 'y'.repeat(limit) }, 512)).not.toThrow();
    expect(() => assertPromptChars({ model: 'm', prompt: 'y'.repeat(limit + 1) }, 512)).toThrow(
      EngineError,
    );
  });
});
