// `npm run bench -- packages`: packs every workspace and installs the tarballs into empty folders
// as an operator would (npm install --omit=dev, NODE_LLAMA_CPP_SKIP_DOWNLOAD=true), and reports
// each install's time and size on disk: the agent alone, the embedded engine its
// `agent engine install` adds to its data folder (the CPU build, and on x86-64 Linux the CUDA one),
// node-llama-cpp installed beside the agent with npm's defaults (every prebuilt variant npm picks,
// for comparison), and the Node control plane. Installs come from the npm cache when it is warm, so times are mostly disk
// and, for the control plane, compiling better-sqlite3 where no prebuilt binary can be downloaded.
import { rmSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { NODE_LLAMA_CPP_VERSION } from '../agent/engines/embedded-install.ts';
import {
  diskBytes,
  type Install,
  installEngineWith,
  installInto,
  MB,
  packAll,
  scratchDir,
} from '../scripts/package-install.ts';

const jsonAt = process.argv.indexOf('--json');
const tarballs = scratchDir('bench-tarballs');
const installs: Install[] = [];
try {
  const packed = packAll(tarballs);
  const { protocol, agent } = packed.tarballs;
  const rows: { name: string; command: string; install: Install }[] = [];
  const measure = (name: string, command: string, specs: string[], flags: string[]) => {
    const install = installInto(name, specs, flags);
    installs.push(install);
    rows.push({ name, command, install });
  };
  measure('agent', '(none)', [protocol, agent], []);
  const plain = installs[0] as Install;
  const builds = platform() === 'linux' && arch() === 'x64' ? ['cpu', 'cuda'] : ['cpu'];
  for (const build of builds) {
    const engine = installEngineWith(plain.dir, join(plain.dir, `data-${build}`), build);
    rows.push({
      name: `+ embedded engine, ${build} build (in the data folder)`,
      command: `agent engine install --build ${build}`,
      install: engine,
    });
  }
  measure(
    'agent + node-llama-cpp beside it, npm defaults (every prebuilt variant npm picks)',
    `+ node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`,
    [protocol, agent, `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`],
    [],
  );
  measure('control plane', '(none)', [protocol, packed.tarballs['control-plane']], []);

  const tarballSizes = Object.entries(packed.tarballs).map(
    ([ws, file]) => `| ${ws} | ${(diskBytes(file) / 1024).toFixed(0)} KiB |`,
  );
  console.log(`Packing the four workspaces (builds included): ${packed.seconds.toFixed(1)} s\n`);
  console.log(['| tarball | size |', '|---|---|', ...tarballSizes].join('\n'));
  console.log('');
  console.log(
    [
      "| install (npm install --omit=dev, or the agent command) | extra flags / packages | time | on disk (node_modules, or the data folder's engines) |",
      '|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.command} | ${r.install.seconds.toFixed(1)} s | ${(r.install.bytes / MB).toFixed(1)} MB |`,
      ),
    ].join('\n'),
  );
  if (jsonAt > 0) {
    const data = {
      packSeconds: packed.seconds,
      installs: rows.map((r) => ({
        name: r.name,
        command: r.command,
        seconds: r.install.seconds,
        bytes: r.install.bytes,
      })),
    };
    writeFileSync(process.argv[jsonAt + 1] as string, JSON.stringify(data));
  }
} finally {
  for (const dir of [tarballs, ...installs.map((i) => i.dir)])
    rmSync(dir, { recursive: true, force: true });
}
