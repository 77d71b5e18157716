import { realpathSync } from 'node:fs';
import { execa } from 'execa';
import { buildWorkloads } from '../workloads/build.js';
import type { HookTarget, SyscallName } from './hookpoints.js';
import { functionFileOffset, importedOffsets, readElf } from './elf.js';
import { detectByAttaching } from './detect.js';
import { assertSyscall } from './symbols.js';
import { attachDynamicEvent, countInstance, scopeInstance, detachDynamicEvent, type DynamicEventHandle } from './tracefsProbe.js';
import type { Mechanism } from './types.js';

/**
 * The libc function each workload calls for its syscall (glibc's open() is the openat syscall on
 * x86-64). attach checks that the workload binary really imports it, so a workload that changes its
 * call fails loudly instead of counting nothing.
 */
export const LIBC_WRAPPER: Partial<Record<SyscallName, string>> = {
  mprotect: 'mprotect',
  getppid: 'getppid',
  execve: 'execve',
  openat: 'open',
};

function libcWrapper(syscall: string): string {
  const symbol = LIBC_WRAPPER[assertSyscall(syscall)];
  if (!symbol) throw new Error(`no libc wrapper known for syscall ${syscall}`);
  return symbol;
}

/** A path we let into uprobe_events: absolute, plain characters, no `..`. */
const SAFE_PATH = /^\/[A-Za-z0-9_./+-]+$/;

export interface UprobeSite {
  library: string;
  symbol: string;
  offset: number;
}

/** The libc the dynamic loader gives `binary` (from ldd, which runs the loader, not the program). */
async function libcOf(binary: string): Promise<string> {
  const r = await execa('ldd', [binary], { reject: false });
  const m = /^\s*libc\.so\.\d+ => (\S+) \(0x[0-9a-f]+\)$/m.exec(r.stdout);
  if (!m) throw new Error(`ldd ${binary}: no libc found (${r.stderr.trim() || r.stdout.trim() || `exit ${r.exitCode}`}); the uprobe needs a dynamically linked workload`);
  const library = realpathSync(m[1]!);
  if (!SAFE_PATH.test(library) || library.split('/').includes('..')) throw new Error(`refusing libc path ${JSON.stringify(library)}`);
  return library;
}

const sites = new Map<string, UprobeSite>();

/** Where to put the uprobe for `target`: the libc wrapper in the libc its workload binary loads. Cached per workload. */
export async function uprobeSite(target: HookTarget): Promise<UprobeSite> {
  const symbol = libcWrapper(target.syscall);
  const key = `${target.workload}:${symbol}`;
  const cached = sites.get(key);
  if (cached) return cached;
  const built = await buildWorkloads();
  const workload = Object.hasOwn(built, target.workload) ? built[target.workload] : undefined;
  if (!workload) throw new Error(`no workload binary for '${target.workload}'`);
  const library = await libcOf(workload.path);
  const libc = readElf(library);
  const offset = functionFileOffset(libc, symbol);
  if (target.expectedPerOp > 0 && !importedOffsets(readElf(workload.path), libc).has(offset)) {
    throw new Error(`${workload.path} does not call ${symbol}() from ${library}: a uprobe there would count nothing`);
  }
  const site = { library, symbol, offset };
  sites.set(key, site);
  return site;
}

/** tracefs uprobe on the libc wrapper the workload calls; fires in every process that calls it. */
export const uprobe: Mechanism<DynamicEventHandle> = {
  name: 'uprobe',
  family: 'uprobe',
  summary: 'tracefs uprobe on the libc wrapper the workload calls (offset from libc\'s ELF symbols), events into a private ring buffer (recording scoped to the workload\'s process tree once it is ready)',
  hookPoint: (t) => `uprobe:libc:${LIBC_WRAPPER[t.syscall] ?? '?'}`,
  expectedPerOp: (t) => t.expectedPerOp,
  detect: (ctx) => detectByAttaching(uprobe, ctx),
  attach: async (t, ctx) => {
    const site = await uprobeSite(t);
    return attachDynamicEvent(ctx.journal, ctx.tag, {
      file: 'uprobe_events',
      type: 'p',
      event: `u_${site.symbol}`,
      location: `${site.library}:0x${site.offset.toString(16)}`,
    });
  },
  scope: async (h, workload) => scopeInstance(h, workload.pid),
  count: async (h) => countInstance(h),
  detach: (h) => detachDynamicEvent(h),
};
