// What the client asks another agent for when it resumes a broken stream, per API.
import { describe, expect, it } from 'vitest';
import { resumePlan } from '../../../client/resume.ts';

const user = { role: 'user', content: 'Count to ten.' };

describe('resumePlan', () => {
  it('OpenAI chat: the text so far becomes an assistant prefill, the token limits shrink', () => {
    const plan = resumePlan('/v1/chat/completions', {
      model: 'm',
      messages: [user],
      max_tokens: 20,
      max_completion_tokens: 30,
      temperature: 0,
    });
    expect(plan?.textOf({ choices: [{ delta: { content: 'one' } }] })).toBe('one');
    expect(plan?.textOf({ choices: [{ delta: { role: 'assistant' } }] })).toBe('');
    expect(plan?.finishes({ choices: [{ delta: {}, finish_reason: 'length' }] })).toBe(true);
    expect(plan?.finishes({ choices: [{ delta: { content: 'x' }, finish_reason: null }] })).toBe(
      false,
    );
    expect(plan?.rest('one, two', 3)).toEqual({
      model: 'm',
      messages: [user, { role: 'assistant', content: 'one, two' }],
      max_tokens: 17,
      max_completion_tokens: 27,
      temperature: 0,
    });
  });

  it('does not resume an answer that may call tools (a call cannot be continued as text)', () => {
    const tools = [{ type: 'function', function: { name: 'f' } }];
    expect(resumePlan('/v1/chat/completions', { messages: [user], tools })).toBeUndefined();
    expect(resumePlan('/api/chat', { messages: [user], tools })).toBeUndefined();
    const none = resumePlan('/v1/chat/completions', {
      messages: [user],
      tools,
      tool_choice: 'none',
    });
    expect(none).toBeDefined();
  });

  it('extends a prefill the caller sent instead of adding a second assistant turn', () => {
    const plan = resumePlan('/v1/chat/completions', {
      model: 'm',
      messages: [user, { role: 'assistant', content: 'One' }],
    });
    expect(plan?.rest(', two', 2)).toMatchObject({
      messages: [user, { role: 'assistant', content: 'One, two' }],
    });
  });

  it('nothing is left to ask for when the token limit was used up', () => {
    expect(
      resumePlan('/v1/chat/completions', { messages: [user], max_tokens: 3 })?.rest('abc', 3),
    ).toBe(undefined);
    expect(
      resumePlan('/api/chat', { messages: [user], options: { num_predict: 2 } })?.rest('ab', 2),
    ).toBe(undefined);
  });

  it('OpenAI completions: the prompt is extended', () => {
    const plan = resumePlan('/v1/completions', { model: 'm', prompt: 'Once', max_tokens: 8 });
    expect(plan?.textOf({ choices: [{ text: ' upon' }] })).toBe(' upon');
    expect(plan?.rest(' upon', 1)).toEqual({ model: 'm', prompt: 'Once upon', max_tokens: 7 });
  });

  it('Ollama chat: prefill plus num_predict; other options kept', () => {
    const plan = resumePlan('/api/chat', {
      model: 'm',
      messages: [user],
      options: { num_predict: 10, temperature: 0 },
    });
    expect(plan?.textOf({ message: { role: 'assistant', content: 'one' } })).toBe('one');
    expect(plan?.finishes({ done: true })).toBe(true);
    expect(plan?.rest('one', 1)).toEqual({
      model: 'm',
      messages: [user, { role: 'assistant', content: 'one' }],
      options: { num_predict: 9, temperature: 0 },
    });
  });

  it('Ollama generate: only raw prompts can be continued', () => {
    expect(resumePlan('/api/generate', { model: 'm', prompt: 'Hi' })).toBe(undefined);
    const plan = resumePlan('/api/generate', { model: 'm', prompt: 'Hi', raw: true });
    expect(plan?.textOf({ response: ' there' })).toBe(' there');
    expect(plan?.rest(' there', 1)).toEqual({
      model: 'm',
      prompt: 'Hi there',
      raw: true,
      options: {},
    });
  });

  it('no plan for several choices or unknown endpoints', () => {
    expect(resumePlan('/v1/chat/completions', { messages: [user], n: 2 })).toBe(undefined);
    expect(resumePlan('/v1/embeddings', { input: 'x' })).toBe(undefined);
    expect(resumePlan('/v1/completions', { prompt: ['a', 'b'] })).toBe(undefined);
  });
});
