import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultKernelCache } from '../vm/debianKernel.js';
import { buildInitramfs } from '../vm/initramfs.js';
import { parseKernelSpecs, resolveKernel, type ResolvedKernel } from '../vm/kernels.js';
import { GUEST_MODULES, guestModuleOrder, parseModulesDep } from '../vm/modules.js';
import { bzImagePayload, hasPvhEntry } from '../vm/pvh.js';

/**
 * Debian's 6.1 kernel as hookbench fetches it (apt-get download on the first run, the cache after):
 * its real modules.dep, the initramfs built from it, its PVH image, and a cached start with no network.
 */
let kernel: ResolvedKernel;

beforeAll(async () => {
  const [spec] = parseKernelSpecs(['6.1'], []);
  kernel = await resolveKernel(spec!, { cacheDir: defaultKernelCache(), log: () => {} });
}, 300_000);

describe('Debian 6.1 from the cache', () => {
  it('is the newest 6.1 package, unpacked and depmod-ed', () => {
    expect(kernel.label).toMatch(/^linux-image-6\.1\.0-\d+-amd64$/);
    expect(kernel.release).toMatch(/^6\.1\.0-\d+-amd64$/);
    expect(readFileSync(join(kernel.modulesDir!, 'modules.dep'), 'utf8')).toMatch(/^kernel\/fs\/9p\/9p\.ko:/m);
  });

  it('loads the proven module set for virtio-pci, 9p and overlay, dependencies first', () => {
    const order = guestModuleOrder(kernel.modulesDir!).map((m) => m.name);
    // The set kernel-facts.md loaded by hand on 6.1.
    expect([...order].sort()).toEqual(
      ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'netfs', 'fscache', '9pnet', '9pnet_virtio', '9p', 'overlay'].sort(),
    );
    const deps = parseModulesDep(readFileSync(join(kernel.modulesDir!, 'modules.dep'), 'utf8'));
    for (const [i, name] of order.entries()) {
      for (const dep of deps.get(name)!.deps) expect(order.indexOf(dep), `${dep} before ${name}`).toBeLessThan(i);
    }
    for (const wanted of GUEST_MODULES) expect(order).toContain(wanted);
  });

  it('builds an initramfs of busybox, /init and those modules as plain ELF, in load order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookbench-vm-initramfs-'));
    const archive = join(dir, 'initramfs.cpio');
    writeFileSync(archive, buildInitramfs(kernel.modulesDir));
    const names = execFileSync('cpio', ['-it', '--quiet', '-F', archive], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual(expect.arrayContaining(['init', 'bin/busybox', 'bin/sh', 'dev/console']));
    const modules = names.filter((n) => n.startsWith('modules/'));
    const order = guestModuleOrder(kernel.modulesDir!).map((m) => m.name);
    expect(modules).toEqual(order.map((name, i) => `modules/${String(i).padStart(2, '0')}-${name}.ko`));
    const extracted = execFileSync('cpio', ['-i', '--quiet', '--to-stdout', '-F', archive, modules[0]!]);
    expect(extracted.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(execFileSync('cpio', ['-i', '--quiet', '--to-stdout', '-F', archive, 'init'], { encoding: 'utf8' })).toMatch(/^#!\/bin\/sh\n/);
  });

  it('boots the uncompressed PVH vmlinux extracted from the bzImage', () => {
    expect(kernel.bootImage).toMatch(/\/boot\/vmlinux-6\.1\.0-\d+-amd64$/);
    expect(hasPvhEntry(readFileSync(kernel.bootImage))).toBe(true);
    const vmlinuz = join(kernel.bootImage, '..', `vmlinuz-${kernel.release}`);
    expect(bzImagePayload(readFileSync(vmlinuz))?.subarray(0, 6)).toEqual(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  });

  it('resolves `6.1` with no network at all (new network namespace) from the cache', async () => {
    const script = `
      import { parseKernelSpecs, resolveKernel } from ${JSON.stringify(join(process.cwd(), 'dist/vm/kernels.js'))};
      import { defaultKernelCache } from ${JSON.stringify(join(process.cwd(), 'dist/vm/debianKernel.js'))};
      const k = await resolveKernel(parseKernelSpecs(['6.1'], [])[0], { cacheDir: defaultKernelCache(), log: (l) => console.error(l) });
      console.log(JSON.stringify(k));`;
    const r = await execa('unshare', ['--net', process.execPath, '--input-type=module', '-e', script], { reject: false });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ label: kernel.label, fromCache: true, bootImage: kernel.bootImage });
  });
});
