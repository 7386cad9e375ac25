// `titan-control-plane [start]` starts the Node control plane; `titan-control-plane agents|keys|
// join-tokens|requests …` runs an admin command (see --help). Returns an exit code, or undefined
// while the control plane keeps serving (it exits on SIGINT/SIGTERM).
import { readFileSync } from 'node:fs';

const ADMIN_COMMANDS = ['agents', 'keys', 'join-tokens', 'requests', 'help', '--help', '-h'];

export async function main(argv: string[]): Promise<number | undefined> {
  const command = argv[0];
  if (['--version', '-V', 'version'].includes(command ?? '')) {
    // ../package.json: the control-plane package's, from control-plane/node/ and from dist/ alike.
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    console.log(`titan-control-plane ${pkg.version}`);
    return 0;
  }
  if (ADMIN_COMMANDS.includes(command ?? '')) {
    const { runAdminCommand, UsageError } = await import('./admin-cli.ts');
    try {
      const out = await runAdminCommand(argv, process.env);
      console.log(typeof out === 'string' ? out.trimEnd() : JSON.stringify(out, null, 2));
      return 0;
    } catch (err) {
      console.error(err instanceof Error ? err.message : String(err));
      return err instanceof UsageError ? 2 : 1;
    }
  }
  if (command === undefined || command === 'start') {
    const { startControlPlane } = await import('./main.ts');
    const running = await startControlPlane(process.env);
    const stop = () =>
      running.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return undefined;
  }
  console.error(`Unknown command '${command}' (see titan-control-plane --help)`);
  return 2;
}
