// node-llama-cpp is the agent package's optional dependency: it is imported only where the embedded
// engine is used, so an agent installed without it (`npm install --omit=optional`, fronting Ollama
// or an OpenAI-compatible server) starts, and one asked for the embedded engine says plainly why
// it cannot.
type EmbeddedEngineModule = typeof import('./llama-cpp.ts');
type NodeLlamaCpp = typeof import('node-llama-cpp');

/** The error to show for a failed import of node-llama-cpp, or undefined for any other error. */
export function missingEmbeddedEngine(err: unknown): Error | undefined {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes("'node-llama-cpp'")) return;
  return new Error(
    'ENGINE=llama-cpp needs the embedded engine, the npm package node-llama-cpp, which is not ' +
      'installed here (the agent was installed with --omit=optional): install it beside the ' +
      'agent (`npm install node-llama-cpp`), give a llama-server binary (--llama-server PATH), ' +
      'or choose ENGINE=ollama or ENGINE=openai',
  );
}

function explained(err: unknown): never {
  throw missingEmbeddedEngine(err) ?? err;
}

export function importNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  return import('node-llama-cpp').catch(explained);
}

export function importEmbeddedEngine(): Promise<EmbeddedEngineModule> {
  return import('./llama-cpp.ts').catch(explained);
}
