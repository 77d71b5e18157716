import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { type CpioEntry, writeCpio } from './cpio.js';
import { VmEnvironmentError } from './errors.js';
import { INIT_SCRIPT, KERNEL_CONFIG_PATH } from './initScript.js';
import { guestModuleOrder, readModule } from './modules.js';

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];
const PT_INTERP = 3;

/** True when an ELF64 file asks for no program interpreter, i.e. runs with no libc from the root. */
export function isStaticElf(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === PT_INTERP) return false;
  }
  return true;
}

/** The host's busybox, which must be the static build: the initramfs has no libc. */
export function findStaticBusybox(): string {
  const path = BUSYBOX_CANDIDATES.find((p) => existsSync(p));
  if (!path) throw new VmEnvironmentError('busybox not found: apt-get install busybox-static');
  if (!isStaticElf(readFileSync(path))) {
    throw new VmEnvironmentError(`${path} is dynamically linked; the guest initramfs needs apt-get install busybox-static`);
  }
  return realpathSync(path);
}

/**
 * The entries of the guest's initramfs: static busybox, the constant /init, a console node, and the
 * modules the init loads, named `NN-<module>.ko` so the init's glob loads them in dependency order.
 * A kernel with everything built in (modulesDir null) gets no modules. The kernel's config, when known,
 * rides along for the init to put where hookbench's environment record looks for it.
 */
export function initramfsEntries(modulesDir: string | null, busybox: string, configFile: string | null = null): CpioEntry[] {
  const dirs = ['/bin', '/dev', '/proc', '/sys', '/modules', '/lower', '/overlay', '/newroot'];
  const entries: CpioEntry[] = [
    ...dirs.map((path): CpioEntry => ({ kind: 'dir', path })),
    { kind: 'chardev', path: '/dev/console', major: 5, minor: 1, mode: 0o600 },
    { kind: 'file', path: '/bin/busybox', data: readFileSync(busybox), executable: true },
    { kind: 'symlink', path: '/bin/sh', target: 'busybox' },
    { kind: 'file', path: '/init', data: Buffer.from(INIT_SCRIPT), executable: true },
  ];
  if (configFile) entries.push({ kind: 'file', path: KERNEL_CONFIG_PATH, data: readFileSync(configFile) });
  const modules = modulesDir ? guestModuleOrder(modulesDir) : [];
  modules.forEach((m, i) => {
    const file = `${String(i).padStart(2, '0')}-${m.name}.ko`;
    entries.push({ kind: 'file', path: `/modules/${file}`, data: readModule(join(modulesDir!, m.path)) });
  });
  return entries;
}

export function buildInitramfs(modulesDir: string | null, configFile: string | null = null): Buffer {
  return writeCpio(initramfsEntries(modulesDir, findStaticBusybox(), configFile));
}
