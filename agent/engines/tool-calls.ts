// Function calls across engines: call ids, and whole calls assembled from streamed pieces.
import { randomBytes } from 'node:crypto';
import { EngineError, type ToolCall, type ToolCallChunk } from './engine.ts';

/** A fresh call id in OpenAI's style (`call_…`), for engines whose calls come without one. */
export function newToolCallId(): string {
  return `call_${randomBytes(12).toString('base64url')}`;
}

/** Collects `tool_call` chunks into whole calls, in index order. */
export class ToolCallAssembler {
  private readonly byIndex = new Map<number, ToolCall>();

  add(chunk: ToolCallChunk): void {
    const call = this.byIndex.get(chunk.index);
    if (call) {
      call.arguments += chunk.arguments;
      return;
    }
    this.byIndex.set(chunk.index, {
      id: chunk.id ?? newToolCallId(),
      name: chunk.name ?? '',
      arguments: chunk.arguments,
    });
  }

  get size(): number {
    return this.byIndex.size;
  }

  calls(): ToolCall[] {
    return [...this.byIndex.entries()].sort(([a], [b]) => a - b).map(([, call]) => call);
  }
}

/**
 * A call's arguments as an object (Ollama's shape); if they are not one, an engine failure (the
 * model's call) or `invalid_request` (a call the client sent back).
 */
export function argumentsObject(
  call: ToolCall,
  code: 'engine_failure' | 'invalid_request' = 'engine_failure',
): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(call.arguments || '{}');
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EngineError(
      code,
      `tool call '${call.id}' of '${call.name}' has arguments that are not a JSON object`,
    );
  }
  return value as Record<string, unknown>;
}
