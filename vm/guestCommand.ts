import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** The checkout this module belongs to, found from its own location (source under vitest, or dist/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'hookbench') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new VmEnvironmentError('cannot find the hookbench checkout above vm/');
    dir = parent;
  }
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
