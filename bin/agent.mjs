#!/usr/bin/env node
// `node bin/agent.mjs …` in a checkout: the agent package's own launcher (agent/bin/agent.mjs),
// which runs the TypeScript sources through tsx here.
import '../agent/bin/agent.mjs';
