// Drives an engine's generate() to the end: the text of its token chunks, the calls its tool_call
// chunks make up, and its done chunk.
import type {
  DoneChunk,
  GenerateRequest,
  InferenceEngine,
  ToolCall,
} from '../../../agent/engines/engine.ts';
import { ToolCallAssembler } from '../../../agent/engines/tool-calls.ts';
import { DEMO_MODEL } from '../../../scripts/cluster.ts';

export async function generateAll(
  engine: InferenceEngine,
  req: Omit<GenerateRequest, 'model'>,
  signal = new AbortController().signal,
): Promise<{ text: string; toolCalls: ToolCall[]; done: DoneChunk }> {
  let text = '';
  const calls = new ToolCallAssembler();
  let done: DoneChunk | undefined;
  for await (const c of engine.generate({ model: DEMO_MODEL, ...req } as GenerateRequest, {
    signal,
  })) {
    if (c.type === 'token') text += c.text;
    else if (c.type === 'tool_call') calls.add(c);
    else done = c;
  }
  if (!done) throw new Error('no done chunk');
  return { text, toolCalls: calls.calls(), done };
}
