// The architecture's rules, checked by `npm run lint` (dependency-cruiser resolves every import,
// so a rule holds whatever the relative path looks like). See docs/adr/0012-import-boundaries.md.
const nodeOnlyPackages =
  '(^|/)node_modules/(better-sqlite3|@hono/node-server|prom-client|systeminformation|node-llama-cpp|undici)/';
const ours = '^(control-plane|agent|protocol|client|schema|bench|scripts|test)/';

module.exports = {
  forbidden: [
    {
      name: 'core-not-runtime-entry',
      comment:
        'control-plane/core runs in workerd and Node: it never imports an entry or its helpers.',
      severity: 'error',
      from: { path: '^control-plane/core/' },
      to: { path: '^control-plane/(node|worker)/' },
    },
    {
      name: 'core-no-node-module',
      comment:
        'control-plane/core is bundled into the Worker: no Node built-in, no Node-only package.',
      severity: 'error',
      from: { path: '^control-plane/core/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'core-no-node-package',
      comment: 'control-plane/core is bundled into the Worker: no Node-only package.',
      severity: 'error',
      from: { path: '^control-plane/core/' },
      to: { path: nodeOnlyPackages },
    },
    {
      name: 'worker-not-node',
      comment: 'The Worker entry never reaches the Node entry or its helpers.',
      severity: 'error',
      from: { path: '^control-plane/worker/' },
      to: { path: ['^control-plane/node/', nodeOnlyPackages] },
    },
    {
      name: 'control-plane-not-agent',
      comment: 'The control plane and the agent share only protocol/.',
      severity: 'error',
      from: { path: '^control-plane/' },
      to: { path: '^(agent|client)/' },
    },
    {
      name: 'agent-not-control-plane',
      comment: 'The control plane and the agent share only protocol/.',
      severity: 'error',
      from: { path: '^agent/' },
      to: { path: '^(control-plane|client)/' },
    },
    {
      name: 'client-only-protocol',
      comment: 'Clients speak the wire contract; they import neither server.',
      severity: 'error',
      from: { path: '^client/' },
      to: { path: '^(control-plane|agent)/' },
    },
    {
      name: 'engines-not-http',
      comment: "Engines are leaves: they know nothing of the agent's HTTP layer.",
      severity: 'error',
      from: { path: '^agent/engines/' },
      to: { path: '^agent/http/' },
    },
    {
      name: 'protocol-imports-nothing-ours',
      comment: 'protocol/ is what every side agrees on; it depends on none of them.',
      severity: 'error',
      from: { path: '^protocol/' },
      to: { path: ours, pathNot: '^protocol/' },
    },
    {
      name: 'schema-imports-nothing-ours',
      comment: 'schema/ is the database shape only.',
      severity: 'error',
      from: { path: '^schema/' },
      to: { path: ours, pathNot: '^schema/' },
    },
    {
      name: 'no-cycle',
      comment: 'An import cycle between our modules.',
      severity: 'error',
      from: { path: '^(control-plane|agent|protocol|client|schema)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: {
      path: '^(node_modules|dist|(agent|control-plane|protocol|client)/dist|bench/results|\\.wrangler)/',
    },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mjs', '.js', '.cjs', '.json', '.d.ts'],
    },
  },
};
