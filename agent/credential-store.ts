// Keeps the agent's control-plane credential in a 0600 file, so a restarted agent reclaims its id
// at once instead of waiting for its old registration to go stale.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface CredentialStore {
  load(): string | undefined;
  save(credential: string): void;
}

export function fileCredentialStore(dir: string, agentId: string): CredentialStore {
  const file = join(dir, `${agentId}.credential`);
  return {
    load() {
      try {
        return readFileSync(file, 'utf8').trim() || undefined;
      } catch {
        return undefined;
      }
    },
    save(credential) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, credential, { mode: 0o600 });
      renameSync(tmp, file);
    },
  };
}
