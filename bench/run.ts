// `npm run bench [name…]`: runs the named benchmarks (all by default) and prints Markdown tables.
export {};

const BENCHES: Record<string, () => Promise<string>> = {
  'scheduler-latency': async () => (await import('./scheduler-latency.ts')).benchSchedulerLatency(),
  'fleet-sim': async () => (await import('./fleet-sim/run.ts')).benchFleetSim(),
  quant: async () => (await import('./quant.ts')).benchQuant(),
};

const wanted = process.argv.slice(2);
const names = wanted.length ? wanted : Object.keys(BENCHES);
for (const name of names) {
  const bench = BENCHES[name];
  if (!bench) {
    console.error(`unknown benchmark '${name}' (${Object.keys(BENCHES).join(', ')})`);
    process.exit(2);
  }
  console.log(`\n## ${name}  (${new Date().toISOString()}, node ${process.version})\n`);
  console.log(await bench());
}
