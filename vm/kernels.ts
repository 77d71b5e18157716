import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { DEBIAN_PACKAGE, fetchDebianKernel, newestOfLine } from './debianKernel.js';
import { VmUsageError } from './errors.js';

export type KernelSpec =
  | { kind: 'debian-line'; line: string }
  | { kind: 'debian-package'; package: string }
  | { kind: 'path'; vmlinuz: string; modulesDir: string | null };

/** A kernel ready to boot. */
export interface ResolvedKernel {
  /** How reports and errors name it: the Debian package, or the vmlinuz path. */
  label: string;
  /** The file qemu's -kernel boots (for a Debian kernel, its uncompressed PVH vmlinux when there is one). */
  bootImage: string;
  /** `lib/modules/<release>` with modules.dep; null for a kernel with virtio-pci, 9p and overlay built in. */
  modulesDir: string | null;
  /** `uname -r` of the guest when known before boot. */
  release: string | null;
  /** The kernel's build config, when known: the guest finds it at /boot/config-<release>. */
  configFile: string | null;
  /** True when nothing was downloaded to get it. */
  fromCache: boolean;
}

const LINE = /^[0-9]+\.[0-9]+$/;

const looksLikePath = (spec: string): boolean => spec.includes('/') || existsSync(spec);

function parseOne(spec: string): KernelSpec {
  if (LINE.test(spec)) return { kind: 'debian-line', line: spec };
  if (DEBIAN_PACKAGE.test(spec)) return { kind: 'debian-package', package: spec };
  if (looksLikePath(spec)) {
    const vmlinuz = resolve(spec);
    if (!existsSync(vmlinuz) || !statSync(vmlinuz).isFile()) throw new VmUsageError(`--kernel ${spec}: no such file`);
    return { kind: 'path', vmlinuz, modulesDir: null };
  }
  throw new VmUsageError(
    `--kernel ${JSON.stringify(spec)}: expected a Debian line (6.1, 6.12), a package (linux-image-6.1.0-56-amd64) or a path to a vmlinuz`,
  );
}

function checkModulesDir(dir: string): string {
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new VmUsageError(`--modules ${dir}: no such directory`);
  if (!existsSync(resolve(abs, 'modules.dep'))) throw new VmUsageError(`--modules ${dir}: no modules.dep there (run depmod)`);
  return abs;
}

/**
 * The --kernel specs in order. Each --modules directory belongs to the path kernels in the order
 * given; a path kernel without one must have what the guest needs built in.
 */
export function parseKernelSpecs(kernels: readonly string[], modules: readonly string[]): KernelSpec[] {
  if (kernels.length === 0) throw new VmUsageError('at least one --kernel is required');
  const specs = kernels.map(parseOne);
  const pathKernels = specs.filter((s): s is Extract<KernelSpec, { kind: 'path' }> => s.kind === 'path');
  if (modules.length > pathKernels.length) {
    throw new VmUsageError(`${modules.length} --modules given for ${pathKernels.length} --kernel path(s): each --modules belongs to one vmlinuz path`);
  }
  modules.forEach((dir, i) => (pathKernels[i]!.modulesDir = checkModulesDir(dir)));
  return specs;
}

export interface ResolveOptions {
  cacheDir: string;
  log: (line: string) => void;
}

export async function resolveKernel(spec: KernelSpec, opts: ResolveOptions): Promise<ResolvedKernel> {
  if (spec.kind === 'path') {
    return { label: spec.vmlinuz, bootImage: spec.vmlinuz, modulesDir: spec.modulesDir, release: spec.modulesDir ? basename(spec.modulesDir) : null, configFile: null, fromCache: true };
  }
  const pkg = spec.kind === 'debian-package' ? spec.package : await newestOfLine(spec.line, opts);
  const k = await fetchDebianKernel(pkg, opts);
  return { label: pkg, bootImage: k.bootImage, modulesDir: k.modulesDir, release: k.release, configFile: k.configFile, fromCache: k.fromCache };
}
