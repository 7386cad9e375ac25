// A network namespace joined to the host by a veth pair, for partition tests (needs root and
// CAP_NET_ADMIN). `cut` takes the namespace's end down: packets vanish, nothing is refused, as when
// a host drops off the network. `heal` brings it back.
import { execFileSync } from 'node:child_process';

export interface Netns {
  name: string;
  /** The host's address on the link (reachable from inside). */
  hostIp: string;
  /** The namespace's address (reachable from the host). */
  nsIp: string;
  cut(): void;
  heal(): void;
  destroy(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

/** Creates the namespace, or returns why it cannot (not root, no CAP_NET_ADMIN, no `ip`). */
export function createNetns(): Netns | { unavailable: string } {
  const n = process.pid % 250;
  const name = `titan-fault-${process.pid}`;
  const hostIf = `tfh${process.pid}`.slice(0, 15);
  const nsIf = `tfa${process.pid}`.slice(0, 15);
  const hostIp = `10.231.${n}.1`;
  const nsIp = `10.231.${n}.2`;
  const destroy = () => {
    for (const args of [
      ['link', 'del', hostIf],
      ['netns', 'del', name],
    ]) {
      try {
        ip(...args);
      } catch {}
    }
  };
  try {
    ip('netns', 'add', name);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', name);
    ip('addr', 'add', `${hostIp}/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsIf);
    ip('netns', 'exec', name, 'ip', 'link', 'set', nsIf, 'up');
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  } catch (err) {
    destroy();
    const why = (err as { stderr?: Buffer }).stderr?.toString().trim() || String(err);
    return { unavailable: why };
  }
  const link = (state: 'up' | 'down') =>
    ip('netns', 'exec', name, 'ip', 'link', 'set', nsIf, state);
  return {
    name,
    hostIp,
    nsIp,
    cut: () => link('down'),
    heal: () => link('up'),
    destroy,
  };
}
