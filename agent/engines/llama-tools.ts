// Tool calling on the embedded engine: chat history with calls and results, the functions
// node-llama-cpp documents in the prompt, and the grammar that forces a call (tool_choice).
import type {
  ChatHistoryItem,
  ChatModelFunctionCall,
  ChatModelFunctions,
  GbnfJsonSchema,
} from 'node-llama-cpp';
import {
  type ChatMessage,
  EngineError,
  type GenerateRequest,
  type ToolCall,
  type ToolDefinition,
} from './engine.ts';
import { toGrammarSchema } from './json-schema.ts';

function invalid(message: string): EngineError {
  return new EngineError('invalid_request', message);
}

/** Arguments of a call in the conversation: JSON text that must parse. */
function parseArguments(call: ToolCall, at: string): unknown {
  try {
    return JSON.parse(call.arguments || '{}');
  } catch {
    throw invalid(`${at}: the arguments of call '${call.id}' are not valid JSON`);
  }
}

/** A tool message's content as the function's result: its JSON value, or the text itself. */
function resultOf(content: string): unknown {
  try {
    return JSON.parse(content);
  } catch {
    return content;
  }
}

/**
 * OpenAI/Ollama messages to node-llama-cpp chat history. An assistant turn's calls become
 * function-call items of its model turn, each with the result its `tool` message gave (matched
 * by call id); node-llama-cpp renders them in the template's (or its generic) call syntax.
 */
export function toChatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  const pending = new Map<string, ChatModelFunctionCall>();
  for (const [i, message] of messages.entries()) {
    const at = `messages[${i}]`;
    if (message.role === 'tool') {
      const call = message.toolCallId ? pending.get(message.toolCallId) : undefined;
      if (!call) throw invalid(`${at}: a tool message must answer a tool call of the turn before`);
      call.result = resultOf(message.content);
      pending.delete(message.toolCallId ?? '');
      continue;
    }
    if (pending.size) {
      throw invalid(
        `${at}: tool call '${[...pending.keys()][0]}' has no tool message answering it`,
      );
    }
    if (message.role === 'system') history.push({ type: 'system', text: message.content });
    else if (message.role === 'user') history.push({ type: 'user', text: message.content });
    else {
      const response: (string | ChatModelFunctionCall)[] = message.content ? [message.content] : [];
      for (const call of message.toolCalls ?? []) {
        const item: ChatModelFunctionCall = {
          type: 'functionCall',
          name: call.name,
          params: parseArguments(call, at),
          result: undefined,
        };
        pending.set(call.id, item);
        response.push(item);
      }
      history.push({ type: 'model', response });
    }
  }
  if (pending.size) {
    throw invalid(`tool call '${[...pending.keys()][0]}' has no tool message answering it`);
  }
  // A trailing user turn needs an empty model turn to answer into; a trailing model turn is
  // continued (prefill, or the answer after its calls' results).
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
  return history;
}

/** An arguments schema the grammar can enforce, or a 400 naming the tool's field. */
function argumentsSchema(tool: ToolDefinition, i: number): GbnfJsonSchema | undefined {
  if (!tool.parameters) return undefined;
  try {
    return toGrammarSchema(tool.parameters);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw invalid(`tools[${i}].function.parameters: ${message}`);
  }
}

/** The functions node-llama-cpp describes to the model, each with its arguments grammar. */
export function functionsFor(tools: ToolDefinition[]): ChatModelFunctions {
  return Object.fromEntries(
    tools.map((tool, i) => {
      const params = argumentsSchema(tool, i);
      return [
        tool.name,
        {
          ...(tool.description ? { description: tool.description } : {}),
          ...(params ? { params } : {}),
        },
      ];
    }),
  );
}

const NO_ARGUMENTS = { type: 'object', properties: {}, additionalProperties: false } as const;

/**
 * The JSON a forced call is generated as, `{"name": …, "arguments": {…}}` (llama-server's generic
 * format for templates without their own): one of the tools, or the named one.
 */
export function forcedCallSchema(
  tools: ToolDefinition[],
  choice: 'required' | { name: string },
): GbnfJsonSchema {
  const chosen = tools
    .map((tool, i) => ({ tool, i }))
    .filter(({ tool }) => choice === 'required' || tool.name === choice.name);
  if (chosen.length === 0) {
    const name = typeof choice === 'object' ? choice.name : '';
    throw invalid(`tool_choice: no tool named '${name}'`);
  }
  const shapes = chosen.map(({ tool, i }) => ({
    type: 'object',
    properties: { name: { const: tool.name }, arguments: argumentsSchema(tool, i) ?? NO_ARGUMENTS },
    required: ['name', 'arguments'],
    additionalProperties: false,
  }));
  const [only] = shapes;
  return (shapes.length === 1 && only ? only : { oneOf: shapes }) as GbnfJsonSchema;
}

/** The call in a forced call's JSON text; `undefined` if it was cut off (max_tokens). */
export function parseForcedCall(text: string): { name: string; arguments: string } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const call = value as { name?: unknown; arguments?: unknown };
  if (typeof call.name !== 'string') return undefined;
  return { name: call.name, arguments: JSON.stringify(call.arguments ?? {}) };
}

/** How a request uses tools on this engine: not at all, the model's choice, or forced. */
export type ToolMode =
  | { kind: 'none' }
  | { kind: 'auto'; functions: ChatModelFunctions }
  | { kind: 'forced'; functions: ChatModelFunctions; schema: GbnfJsonSchema };

export function toolModeOf(req: GenerateRequest): ToolMode {
  const tools = req.tools ?? [];
  const choice = req.toolChoice ?? 'auto';
  if (tools.length === 0 || choice === 'none') return { kind: 'none' };
  if (req.format) {
    // node-llama-cpp cannot apply a response grammar and its function-call grammar together.
    throw new EngineError(
      'invalid_request',
      'response_format: this engine cannot combine a response format with tools; send one of them',
    );
  }
  const functions = functionsFor(tools);
  if (choice === 'auto') return { kind: 'auto', functions };
  return { kind: 'forced', functions, schema: forcedCallSchema(tools, choice) };
}
