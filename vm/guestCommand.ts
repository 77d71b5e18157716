import { repoRoot } from '../bench/repo.js';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { VmEnvironmentError } from './errors.js';

/** One argument for /bin/sh, whatever it contains: inside single quotes only `'` itself needs care. */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('an argument cannot contain a NUL byte');
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The script the guest's init runs (from the results share, never from the init itself): every
 * word quoted, so the guest runs exactly this argv in this directory.
 */
export function commandScript(argv: readonly string[], cwd: string): string {
  if (argv.length === 0) throw new Error('empty guest command');
  return `cd ${shellQuote(cwd)} || exit 125\nexec ${argv.map(shellQuote).join(' ')}\n`;
}

/**
 * `hookbench <args>` as the guest runs it: the host's own node and compiled CLI, seen through the
 * read-only 9p root, so the guest needs no second copy of anything.
 */
export function hookbenchGuestCommand(args: readonly string[]): string[] {
  const cli = resolve(repoRoot(), 'dist', 'bench', 'cli.js');
  if (!existsSync(cli)) throw new VmEnvironmentError(`${cli} is missing: build first (make, or npx tsc -p .)`);
  return [process.execPath, cli, ...args];
}
