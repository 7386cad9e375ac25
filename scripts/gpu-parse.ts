// Entry of the GPU check (scripts/gpu-check.sh): the agent's nvidia-smi parser on live output read
// from stdin, printed as JSON. Bundled into .gpu-check/gpu-parse.mjs so the GPU machine needs only Node.
import { readFileSync } from 'node:fs';
import { parseNvidiaSmiCsv } from '../agent/stats.ts';

const csv = readFileSync(0, 'utf8');
console.log(JSON.stringify({ parsed: parseNvidiaSmiCsv(csv) }, null, 2));
