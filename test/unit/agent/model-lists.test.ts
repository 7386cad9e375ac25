// The agent's own model lists show the GGUF type each model is served in.
import { describe, expect, it } from 'vitest';
import { MODEL, makeAgent } from './helpers.ts';

describe('quantization in the model lists', () => {
  it('shows the GGUF type in /v1/models and /api/tags', async () => {
    const agent = await makeAgent({ engine: { quantization: 'Q4_1' } });
    const openai = (await (await agent.app.request('/v1/models')).json()) as {
      data: { id: string; quantizations: string[] }[];
    };
    expect(openai.data).toEqual([expect.objectContaining({ id: MODEL, quantizations: ['Q4_1'] })]);
    const tags = (await (await agent.app.request('/api/tags')).json()) as {
      models: { name: string; details: { quantization_level: string } }[];
    };
    expect(tags.models[0]?.details.quantization_level).toBe('Q4_1');
  });
});
