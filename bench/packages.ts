// `npm run bench -- packages`: packs every workspace and installs the tarballs into empty folders
// as an operator would (npm install --omit=dev, NODE_LLAMA_CPP_SKIP_DOWNLOAD=true), and reports
// each install's time and size on disk: the agent without the embedded engine, with its x86-64 CPU
// build only, with every prebuilt variant npm picks by default (CUDA and Vulkan included), and the
// Node control plane. Installs come from the npm cache when it is warm, so times are mostly disk
// and, for the control plane, compiling better-sqlite3 where no prebuilt binary can be downloaded.
import { rmSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import {
  diskBytes,
  EMBEDDED_CPU_ENGINE,
  type Install,
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
  measure('agent, no embedded engine', '--omit=optional', [protocol, agent], ['--omit=optional']);
  if (platform() === 'linux' && arch() === 'x64') {
    measure(
      'agent, embedded engine (x86-64 CPU build)',
      `--omit=optional + ${EMBEDDED_CPU_ENGINE.join(' ')}`,
      [protocol, agent, ...EMBEDDED_CPU_ENGINE],
      ['--omit=optional'],
    );
  }
  measure('agent, default (every prebuilt engine variant)', '(none)', [protocol, agent], []);
  measure('control plane', '(none)', [protocol, packed.tarballs['control-plane']], []);

  const tarballSizes = Object.entries(packed.tarballs).map(
    ([ws, file]) => `| ${ws} | ${(diskBytes(file) / 1024).toFixed(0)} KiB |`,
  );
  console.log(`Packing the four workspaces (builds included): ${packed.seconds.toFixed(1)} s\n`);
  console.log(['| tarball | size |', '|---|---|', ...tarballSizes].join('\n'));
  console.log('');
  console.log(
    [
      '| install (npm install --omit=dev) | extra flags / packages | time | node_modules on disk |',
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
