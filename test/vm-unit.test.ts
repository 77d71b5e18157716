import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KernelOutcome } from '../vm/comparison.js';
import { ConsoleLines } from '../vm/consoleLines.js';
import { writeCpio } from '../vm/cpio.js';
import { compressionOf, decompress } from '../vm/decompress.js';
import { VmUsageError } from '../vm/errors.js';
import { commandScript, shellQuote } from '../vm/guestCommand.js';
import { findStaticBusybox, initramfsEntries, isStaticElf } from '../vm/initramfs.js';
import { INIT_SCRIPT, KERNEL_CONFIG_PATH } from '../vm/initScript.js';
import { parseKernelSpecs } from '../vm/kernels.js';
import { loadOrder, moduleName, parseModulesBuiltin, parseModulesDep, readModule } from '../vm/modules.js';
import { guestLsmList, kernelAppend, qemuArgs } from '../vm/qemu.js';
import { bzImagePayload, hasPvhEntry } from '../vm/pvh.js';
import { combinedExitCode, parseMemory, registerVmCommand } from '../vm/cli.js';

const scratch = (): string => mkdtempSync(join(tmpdir(), 'hookbench-vm-unit-'));

/** The shape of Debian 6.1's entries for what the guest needs, with an xz module and a built-in. */
const MODULES_DEP = `kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/netfs/netfs.ko:
kernel/net/9p/9pnet.ko:
kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/fs/overlayfs/overlay.ko:
kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko
`;
const BUILTIN = 'kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/virtio/virtio.ko\n';

describe('modules.dep', () => {
  const deps = parseModulesDep(MODULES_DEP);
  const builtin = parseModulesBuiltin(BUILTIN);

  it('names modules as the kernel does', () => {
    expect(moduleName('kernel/net/9p/9pnet_virtio.ko.xz')).toBe('9pnet_virtio');
    expect(moduleName('kernel/drivers/x/snd-hda-intel.ko.zst')).toBe('snd_hda_intel');
  });

  it('loads every dependency before its user, each once, built-ins skipped', () => {
    const order = loadOrder(deps, builtin, ['virtio_pci', '9pnet_virtio', '9p', 'overlay']).map((m) => m.name);
    expect(order).toEqual(['9pnet', 'virtio_ring', '9pnet_virtio', 'netfs', 'fscache', '9p', 'overlay']);
    for (const [i, name] of order.entries()) {
      for (const dep of deps.get(name)!.deps) expect(order.indexOf(dep)).toBeLessThan(i);
    }
  });

  it('names a module that is neither built in nor listed', () => {
    expect(() => loadOrder(deps, builtin, ['virtio_pci', 'nosuch'])).toThrow(/module nosuch .* neither built in nor listed/);
    expect(() => loadOrder(deps, new Set(), ['ext4'])).toThrow(/module jbd2 \(needed by ext4\)/);
  });
});

describe('decompression of modules', () => {
  it('reads .ko, .ko.xz and .ko.zst as the same plain module', () => {
    const dir = scratch();
    const plain = Buffer.concat([Buffer.from('\x7fELF'), Buffer.alloc(4096, 7)]);
    writeFileSync(join(dir, 'm.ko'), plain);
    execFileSync('xz', ['-k', join(dir, 'm.ko')]);
    execFileSync('zstd', ['-q', '-k', join(dir, 'm.ko')]);
    expect(compressionOf(readFileSync(join(dir, 'm.ko.xz')))).toBe('xz');
    expect(compressionOf(readFileSync(join(dir, 'm.ko.zst')))).toBe('zstd');
    for (const f of ['m.ko', 'm.ko.xz', 'm.ko.zst']) expect(readModule(join(dir, f)).equals(plain)).toBe(true);
    expect(decompress(plain, 'plain').equals(plain)).toBe(true);
  });
});

describe('cpio', () => {
  it('writes an archive cpio(1) lists, with the device node and symlink', () => {
    const dir = scratch();
    const archive = join(dir, 'a.cpio');
    writeFileSync(
      archive,
      writeCpio([
        { kind: 'dir', path: '/bin' },
        { kind: 'dir', path: '/dev' },
        { kind: 'chardev', path: '/dev/console', major: 5, minor: 1, mode: 0o600 },
        { kind: 'file', path: '/bin/tool', data: Buffer.from('#!/bin/sh\necho odd-length\n'), executable: true },
        { kind: 'symlink', path: '/bin/sh', target: 'tool' },
      ]),
    );
    const names = execFileSync('cpio', ['-it', '--quiet', '-F', archive], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual(['bin', 'dev', 'dev/console', 'bin/tool', 'bin/sh']);
    const listing = execFileSync('cpio', ['-itv', '--quiet', '-F', archive], { encoding: 'utf8' }).trim().split('\n');
    expect(listing[4]).toMatch(/bin\/sh -> tool$/);
    expect(listing[2]).toMatch(/^crw-------/);
    expect(listing[3]).toMatch(/^-rwxr-xr-x/);
    const out = join(dir, 'x');
    mkdirSync(out);
    execFileSync('cpio', ['-id', '--quiet', '-F', archive, 'bin/tool'], { cwd: out });
    expect(readFileSync(join(out, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\necho odd-length\n');
  });
});

describe('initramfs', () => {
  it('uses a static busybox only', () => {
    expect(isStaticElf(readFileSync(findStaticBusybox()))).toBe(true);
    expect(isStaticElf(readFileSync(process.execPath))).toBe(false);
  });

  it('holds busybox, the init, the console and no modules for a kernel with everything built in', () => {
    const paths = initramfsEntries(null, findStaticBusybox()).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['/init', '/bin/busybox', '/bin/sh', '/dev/console', '/lower', '/overlay', '/newroot']));
    expect(paths.filter((p) => p.startsWith('/modules/'))).toEqual([]);
    expect(paths).not.toContain(KERNEL_CONFIG_PATH);
  });

  it('carries the kernel config when known, and the init puts it at /boot/config-<release> in the guest root', () => {
    const config = join(mkdtempSync(join(tmpdir(), 'hookbench-vm-unit-')), 'config-6.1.0-57-amd64');
    writeFileSync(config, 'CONFIG_KPROBES=y\n');
    const entry = initramfsEntries(null, findStaticBusybox(), config).find((e) => e.path === KERNEL_CONFIG_PATH);
    expect(entry?.kind === 'file' && entry.data.toString()).toBe('CONFIG_KPROBES=y\n');
    expect(INIT_SCRIPT).toContain(`cp ${KERNEL_CONFIG_PATH} $R/boot/config-$(uname -r)`);
  });
});

describe('guest LSM list', () => {
  it('appends bpf to the kernel\'s own order where the kernel has BPF LSM', () => {
    const config = 'CONFIG_BPF_LSM=y\nCONFIG_LSM="landlock,lockdown,yama,integrity,apparmor"\n';
    expect(guestLsmList(config)).toBe('landlock,lockdown,yama,integrity,apparmor,bpf');
    expect(kernelAppend('tcg', guestLsmList(config))).toContain(' lsm=landlock,lockdown,yama,integrity,apparmor,bpf');
    expect(guestLsmList('CONFIG_BPF_LSM=y\nCONFIG_LSM="yama,bpf,apparmor"\n')).toBe('yama,bpf,apparmor');
  });

  it('leaves the kernel\'s list alone where it has no BPF LSM or says nothing, and refuses anything but names', () => {
    expect(guestLsmList('# CONFIG_BPF_LSM is not set\nCONFIG_LSM="yama"\n')).toBeNull();
    expect(guestLsmList('CONFIG_BPF_LSM=y\n')).toBeNull();
    expect(guestLsmList('CONFIG_BPF_LSM=y\nCONFIG_LSM="yama $(reboot)"\n')).toBeNull();
    expect(() => kernelAppend('tcg', 'yama quiet')).toThrow(/refusing LSM list/);
  });
});

describe('qemu command line', () => {
  const base = { kernelImage: '/k/vmlinux', initramfs: '/t/initramfs.cpio', memoryMiB: 2048, cpus: 2, resultsDir: '/r/a,b' };

  it('boots TCG with -cpu max, no reboot, serial console, both 9p shares', () => {
    const args = qemuArgs({ ...base, accel: 'tcg' });
    const after = (flag: string): string[] => args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
    expect(after('-accel')).toEqual(['tcg,thread=single']);
    expect(after('-cpu')).toEqual(['max']);
    expect(after('-m')).toEqual(['2048']);
    expect(after('-smp')).toEqual(['2']);
    expect(after('-kernel')).toEqual(['/k/vmlinux']);
    expect(after('-initrd')).toEqual(['/t/initramfs.cpio']);
    expect(args).toEqual(expect.arrayContaining(['-nographic', '-no-reboot']));
    expect(after('-append')[0]).toBe(kernelAppend('tcg'));
    expect(kernelAppend('tcg').split(' ')).toEqual(expect.arrayContaining(['console=ttyS0', 'panic=-1', 'softlockup_panic=1', 'hookbench.accel=tcg']));
    expect(kernelAppend('tcg')).not.toContain('lsm=');
    expect(after('-virtfs')).toEqual([
      'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
      'local,path=/r/a,,b,mount_tag=hbresults,security_model=none',
    ]);
  });

  it('leaves the CPU model alone under KVM (host and max abort here)', () => {
    const args = qemuArgs({ ...base, accel: 'kvm' });
    expect(args).not.toContain('-cpu');
    expect(args[args.indexOf('-append') + 1]).toContain('hookbench.accel=kvm');
  });
});

describe('kernel specs', () => {
  it('reads Debian lines, packages and paths', () => {
    const dir = scratch();
    const vmlinuz = join(dir, 'vmlinuz');
    writeFileSync(vmlinuz, 'x');
    const modules = join(dir, 'lib/modules/6.9.0');
    mkdirSync(modules, { recursive: true });
    writeFileSync(join(modules, 'modules.dep'), '');
    expect(parseKernelSpecs(['6.1', 'linux-image-6.1.0-56-amd64', 'linux-image-6.12.117+deb12-amd64', vmlinuz], [modules])).toEqual([
      { kind: 'debian-line', line: '6.1' },
      { kind: 'debian-package', package: 'linux-image-6.1.0-56-amd64' },
      { kind: 'debian-package', package: 'linux-image-6.12.117+deb12-amd64' },
      { kind: 'path', vmlinuz, modulesDir: modules },
    ]);
  });

  it.each([
    ['6', /expected a Debian line/],
    ['6.1;reboot', /expected a Debian line/],
    ['linux-image-6.1.0-56-amd64 reboot', /expected a Debian line/],
    ['-o APT::x=y', /expected a Debian line/],
    ['linux-headers-6.1.0-56-amd64', /expected a Debian line/],
    ['./no/such/vmlinuz', /no such file/],
  ])('rejects %j', (spec, message) => {
    expect(() => parseKernelSpecs([spec], [])).toThrow(VmUsageError);
    expect(() => parseKernelSpecs([spec], [])).toThrow(message);
  });

  it('rejects --modules without a vmlinuz path, or without modules.dep', () => {
    expect(() => parseKernelSpecs([], [])).toThrow(/at least one --kernel/);
    expect(() => parseKernelSpecs(['6.1'], ['/tmp'])).toThrow(/1 --modules given for 0 --kernel path/);
    const dir = scratch();
    writeFileSync(join(dir, 'vmlinuz'), 'x');
    expect(() => parseKernelSpecs([join(dir, 'vmlinuz')], [dir])).toThrow(/no modules.dep there/);
  });
});

describe('guest command script', () => {
  it('quotes every argument so the guest runs exactly that argv', () => {
    const odd = ["it's", '$(reboot)', '`id`', 'a b', 'line\nbreak', '*', '"', '\\', '--x=;y'];
    const argv = [process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...odd];
    const dir = scratch();
    writeFileSync(join(dir, 'command.sh'), commandScript(argv, dir));
    const out = execFileSync('/bin/sh', [join(dir, 'command.sh')], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(odd);
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });
});

describe('pvh', () => {
  it('finds no payload or PVH note in what is not a kernel', () => {
    const junk = Buffer.alloc(8192, 0x41);
    expect(bzImagePayload(junk)).toBeNull();
    expect(hasPvhEntry(junk)).toBe(false);
    expect(hasPvhEntry(readFileSync(process.execPath))).toBe(false);
  });
});

describe('vm command', () => {
  const outcome = (guestExitCode: number | null, error: string | null = null): KernelOutcome => ({
    dir: '/x',
    results: null,
    run: { kernel: 'k', release: null, accel: 'tcg', memoryMiB: 1, cpus: 1, bootS: null, runS: null, guestExitCode, error },
  });

  it('exits with the worst kernel: VM error 2, then FAIL 1, then inconclusive 3', () => {
    expect(combinedExitCode([outcome(0), outcome(0)])).toBe(0);
    expect(combinedExitCode([outcome(0), outcome(3)])).toBe(3);
    expect(combinedExitCode([outcome(3), outcome(1)])).toBe(1);
    expect(combinedExitCode([outcome(1), outcome(null, 'kernel k: panicked')])).toBe(2);
    expect(combinedExitCode([outcome(0), outcome(2)])).toBe(2);
  });

  it('reads memory sizes', () => {
    expect(parseMemory('2G')).toBe(2048);
    expect(parseMemory('1536M')).toBe(1536);
    expect(() => parseMemory('12')).toThrow(/--memory/);
    expect(() => parseMemory('2T')).toThrow(/--memory/);
  });

  describe('bad input: one line, exit 2, nothing booted', () => {
    afterEach(() => vi.restoreAllMocks());

    it.each([
      [['--kernel', '7']],
      [['--kernel', '6.1', '--memory', 'lots']],
      [['--kernel', '6.1', '--accel', 'xen']],
      [['--kernel', '6.1', '--cpus', '0']],
      [['--kernel', '6.1', '--timeout', '-1']],
      [['--kernel', '6.1', '--latency-cycles', '1']],
      [['--kernel', '6.1', '--workloads', 'mprotect', '--', 'doctor']],
    ])('%j', async (args) => {
      const stderr: string[] = [];
      vi.spyOn(process.stderr, 'write').mockImplementation((s) => (stderr.push(String(s)), true));
      let code: number | null = null;
      const program = new Command('hookbench').exitOverride();
      registerVmCommand(program, {
        setExit: (c) => (code = c),
      });
      await program.parseAsync(['vm', ...args], { from: 'user' });
      expect(code).toBe(2);
      expect(stderr).toHaveLength(1);
      expect(stderr[0]).toMatch(/^hookbench: .+\n$/);
      expect(stderr[0]!.trimEnd()).not.toContain('\n');
    });
  });
});

describe('console lines', () => {
  it('keeps a UTF-8 character and a line that straddle chunks whole, without escapes or CRs', () => {
    const bytes = Buffer.from('\x1bc\x1b[?7lSeaBIOS\r\n  kprobe × mprotect  PASS\r\nlast', 'utf8');
    const cut = bytes.indexOf(Buffer.from('×')) + 1;
    const lines = new ConsoleLines();
    const out = [...lines.push(bytes.subarray(0, cut)), ...lines.push(bytes.subarray(cut)), ...lines.end()];
    expect(out).toEqual(['SeaBIOS', '  kprobe × mprotect  PASS', 'last']);
  });
});
