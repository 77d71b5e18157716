import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { VmEnvironmentError, VmUsageError } from './errors.js';
import { extractPvhKernel } from './pvh.js';

/** Debian's kernel image packages for qemu-system-x86_64: linux-image-6.1.0-56-amd64, linux-image-6.12.117+deb12-amd64. */
export const DEBIAN_PACKAGE = /^linux-image-[0-9]+\.[0-9]+[0-9a-z.+~-]*-amd64$/;

export interface DebianKernel {
  package: string;
  release: string;
  vmlinuz: string;
  /** What qemu boots: the uncompressed PVH vmlinux extracted next to vmlinuz, or vmlinuz itself. */
  bootImage: string;
  modulesDir: string;
  /** The package's /boot/config-<release>: the guest's kernel config, for its environment record. */
  configFile: string | null;
  fromCache: boolean;
}

interface FetchOptions {
  cacheDir: string;
  log: (line: string) => void;
}

export function defaultKernelCache(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hookbench', 'kernels');
}

/** The generic image packages of one line, e.g. for 6.1 `linux-image-6.1.0-56-amd64` but not -cloud-, -rt- or -dbg. */
function linePackage(line: string): RegExp {
  return new RegExp(`^linux-image-${line.replace('.', '\\.')}\\.[0-9]+(?:-[0-9]+|\\+deb[0-9]+)?-amd64$`);
}

/** Newest first: package names carry the ABI number, which grows with every upload. */
const newestFirst = (a: string, b: string): number => b.localeCompare(a, 'en', { numeric: true });

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const r = await execa(cmd, args, { cwd, reject: false, all: true });
  if (r.exitCode !== 0) {
    const words = (r.all ?? '').split('\n').filter((l) => !l.includes('unsandboxed')).join(' ').trim();
    throw new VmEnvironmentError(`${cmd} ${args.join(' ')} failed: ${words || r.shortMessage}`);
  }
  return r.stdout;
}

async function aptPackagesOfLine(line: string): Promise<string[]> {
  const names = await run('apt-cache', ['pkgnames', `linux-image-${line}.`]);
  return names.split('\n').filter((n) => linePackage(line).test(n));
}

function cachedPackages(cacheDir: string): string[] {
  return existsSync(cacheDir) ? readdirSync(cacheDir).filter((n) => DEBIAN_PACKAGE.test(n)) : [];
}

/**
 * The newest package of a line that apt knows or the cache holds. apt-cache reads local lists, so a
 * cached newest kernel starts without network; only when neither knows the line are the lists refreshed.
 */
export async function newestOfLine(line: string, opts: FetchOptions): Promise<string> {
  const known = async (): Promise<string[]> =>
    [...new Set([...(await aptPackagesOfLine(line)), ...cachedPackages(opts.cacheDir).filter((n) => linePackage(line).test(n))])].sort(newestFirst);
  let names = await known();
  if (names.length === 0) {
    opts.log(`no ${line} kernel in apt's lists: apt-get update`);
    await run('apt-get', ['update', '-qq']);
    names = await known();
  }
  if (names.length === 0) throw new VmUsageError(`--kernel ${line}: no Debian package linux-image-${line}.*-amd64 in apt's lists`);
  return names[0]!;
}

/** boot/vmlinux-<release>, extracted once per cached kernel (written aside, then renamed into place). */
function pvhImage(vmlinuz: string, release: string): string | null {
  const vmlinux = join(dirname(vmlinuz), `vmlinux-${release}`);
  if (existsSync(vmlinux)) return vmlinux;
  const elf = extractPvhKernel(readFileSync(vmlinuz));
  if (!elf) return null;
  writeFileSync(`${vmlinux}.partial`, elf);
  renameSync(`${vmlinux}.partial`, vmlinux);
  return vmlinux;
}

function cachedKernel(pkg: string, dir: string): DebianKernel | null {
  const modulesRoot = join(dir, 'lib', 'modules');
  if (!existsSync(modulesRoot)) return null;
  const [release, ...others] = readdirSync(modulesRoot);
  if (!release || others.length > 0) throw new VmEnvironmentError(`${modulesRoot}: expected exactly one kernel release`);
  const vmlinuz = join(dir, 'boot', `vmlinuz-${release}`);
  if (!existsSync(vmlinuz)) throw new VmEnvironmentError(`${pkg} has no ${vmlinuz}`);
  const bootImage = pvhImage(vmlinuz, release) ?? vmlinuz;
  const configFile = join(dir, 'boot', `config-${release}`);
  return { package: pkg, release, vmlinuz, bootImage, modulesDir: join(modulesRoot, release), configFile: existsSync(configFile) ? configFile : null, fromCache: true };
}

/** apt-get download, retried once after refreshing the lists (stale lists name files the mirror dropped). */
async function download(pkg: string, dir: string, log: (line: string) => void): Promise<string> {
  try {
    await run('apt-get', ['download', '-q', pkg], dir);
  } catch {
    log(`apt-get download ${pkg} failed; apt-get update and retry`);
    await run('apt-get', ['update', '-qq']);
    await run('apt-get', ['download', '-q', pkg], dir);
  }
  const deb = readdirSync(dir).find((n) => n.endsWith('.deb'));
  if (!deb) throw new VmEnvironmentError(`apt-get download ${pkg} left no .deb`);
  return join(dir, deb);
}

/** A concurrent fetch of the same package may have won the race: its copy is as good as ours. */
function moveIntoCache(unpacked: string, target: string): void {
  try {
    renameSync(unpacked, target);
  } catch (err) {
    if (!existsSync(join(target, 'lib', 'modules'))) throw err;
  }
}

/**
 * The kernel and its depmod-ed modules under <cacheDir>/<package>/. Unpacked in a scratch directory
 * and renamed into place last, so an interrupted fetch never looks like a cache hit.
 */
export async function fetchDebianKernel(pkg: string, opts: FetchOptions): Promise<DebianKernel> {
  if (!DEBIAN_PACKAGE.test(pkg)) throw new VmUsageError(`not a Debian kernel image package: ${JSON.stringify(pkg)}`);
  const target = join(opts.cacheDir, pkg);
  const hit = cachedKernel(pkg, target);
  if (hit) return hit;

  mkdirSync(opts.cacheDir, { recursive: true });
  const scratch = mkdtempSync(join(opts.cacheDir, '.fetch-'));
  try {
    opts.log(`downloading ${pkg}`);
    const deb = await download(pkg, scratch, opts.log);
    const root = join(scratch, 'root');
    await run('dpkg-deb', ['-x', deb, root]);
    const [release] = readdirSync(join(root, 'lib', 'modules'));
    if (!release) throw new VmEnvironmentError(`${pkg} holds no lib/modules/<release>`);
    await run('depmod', ['-b', root, release]);
    moveIntoCache(root, target);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return { ...cachedKernel(pkg, target)!, fromCache: false };
}
