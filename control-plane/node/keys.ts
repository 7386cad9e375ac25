// Node key material: TICKET_PRIVATE_KEY from the environment, else a key file made once with 0600.
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DEFAULT_TICKET_ALG, generatePrivateKeyPem, type TicketAlg } from '../core/tickets.ts';

/**
 * The private key PEM and where it came from. A key file is made with `alg` (TICKET_ALG), else
 * DEFAULT_TICKET_ALG; an existing key keeps its own algorithm (createTicketSigner reads it).
 */
export async function loadOrCreatePrivateKey(opts: {
  envPem: string | undefined;
  keyFile: string;
  alg?: TicketAlg | undefined;
}): Promise<{ pem: string; source: string }> {
  if (opts.envPem) return { pem: opts.envPem.replace(/\\n/g, '\n'), source: 'TICKET_PRIVATE_KEY' };
  try {
    const pem = await readFile(opts.keyFile, 'utf8');
    const mode = (await stat(opts.keyFile)).mode & 0o777;
    if (mode & 0o077) await chmod(opts.keyFile, 0o600);
    return { pem, source: opts.keyFile };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(opts.keyFile), { recursive: true, mode: 0o700 });
  const pem = await generatePrivateKeyPem(opts.alg ?? DEFAULT_TICKET_ALG);
  // 'wx' fails if another process created the file meanwhile; then use theirs.
  try {
    await writeFile(opts.keyFile, pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      return { pem: await readFile(opts.keyFile, 'utf8'), source: opts.keyFile };
    }
    throw err;
  }
  return { pem, source: `${opts.keyFile} (created)` };
}
