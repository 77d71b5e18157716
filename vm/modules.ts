import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decompress } from './decompress.js';
import { VmUsageError } from './errors.js';

/**
 * What the guest's init needs before it can reach the host's root: the PCI transport for virtio, 9p over
 * virtio, and overlayfs for the writable tmpfs layer. Everything else they need comes from modules.dep.
 */
export const GUEST_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'] as const;

export interface ModuleEntry {
  name: string;
  /** Path relative to the modules directory, as modules.dep writes it. */
  path: string;
  /** Names of the modules this one needs (modules.dep lists the whole closure, unordered). */
  deps: string[];
}

/** The kernel's own module name for a file: `9pnet_virtio.ko.xz` -> `9pnet_virtio`, dashes as underscores. */
export function moduleName(path: string): string {
  return basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

export function parseModulesDep(text: string): Map<string, ModuleEntry> {
  const modules = new Map<string, ModuleEntry>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(moduleName);
    modules.set(moduleName(path), { name: moduleName(path), path, deps });
  }
  return modules;
}

/** Module names listed in modules.builtin (built into the kernel image: nothing to load). */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(text.split('\n').filter(Boolean).map(moduleName));
}

/**
 * The modules to insmod, dependencies first, for the wanted set. Built-in modules are skipped; a wanted
 * module that is neither built in nor in modules.dep is an error naming it.
 */
export function loadOrder(deps: Map<string, ModuleEntry>, builtin: Set<string>, wanted: readonly string[]): ModuleEntry[] {
  const order: ModuleEntry[] = [];
  const visited = new Set<string>();
  const visit = (name: string, neededBy: string | null): void => {
    if (visited.has(name) || builtin.has(name)) return;
    visited.add(name);
    const entry = deps.get(name);
    if (!entry) {
      const why = neededBy ? `needed by ${neededBy}` : 'needed to mount the host root';
      throw new VmUsageError(`module ${name} (${why}) is neither built in nor listed in modules.dep`);
    }
    for (const dep of entry.deps) visit(dep, name);
    order.push(entry);
  };
  for (const name of wanted) visit(name, null);
  return order;
}

/** The guest's load order read from a modules directory (`lib/modules/<release>`). */
export function guestModuleOrder(modulesDir: string): ModuleEntry[] {
  const depFile = join(modulesDir, 'modules.dep');
  if (!existsSync(depFile)) throw new VmUsageError(`${depFile} not found: run depmod for this modules directory first`);
  const builtinFile = join(modulesDir, 'modules.builtin');
  const builtin = existsSync(builtinFile) ? parseModulesBuiltin(readFileSync(builtinFile, 'utf8')) : new Set<string>();
  return loadOrder(parseModulesDep(readFileSync(depFile, 'utf8')), builtin, GUEST_MODULES);
}

/** The plain ELF module behind a .ko, .ko.xz, .ko.zst or .ko.gz file (busybox insmod takes plain ones only). */
export function readModule(file: string): Buffer {
  return decompress(readFileSync(file), basename(file));
}
