import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SYSCALL_NUMBERS_X86_64, type SyscallName } from './hookpoints.js';
import { TRACEFS } from './tracefs.js';

/**
 * Validation of every kernel name a mechanism hands to tracefs or a bpftrace program: names must be
 * plain C identifiers and, for functions, ones this kernel lists. Nothing else reaches the kernel.
 */
const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Refused input: one line saying what and why (callers turn it into exit code 2). */
export class InvalidTargetError extends Error {}

export function assertIdentifier(what: string, name: string): string {
  if (typeof name !== 'string' || !C_IDENTIFIER.test(name)) throw new InvalidTargetError(`invalid ${what} ${JSON.stringify(name)}: not a C identifier`);
  return name;
}

/** The syscall's x86-64 number, from the fixed table only. */
export function syscallNumber(name: string): number {
  if (!Object.hasOwn(SYSCALL_NUMBERS_X86_64, name)) throw new InvalidTargetError(`invalid syscall ${JSON.stringify(name)}: not in hookbench's syscall table`);
  return SYSCALL_NUMBERS_X86_64[name as SyscallName];
}

export function assertSyscall(name: string): SyscallName {
  syscallNumber(name);
  return name as SyscallName;
}

interface FunctionList {
  source: string;
  names: Set<string>;
}

let cachedList: FunctionList | null = null;

/** available_filter_functions: "name" or "name [module]" per line. */
function filterFunctions(): FunctionList {
  const source = join(TRACEFS, 'available_filter_functions');
  const names = new Set(readFileSync(source, 'utf8').split('\n').map((line) => line.split(' ')[0]!).filter(Boolean));
  return { source, names };
}

/** /proc/kallsyms text symbols ("addr t name [module]"). */
function kallsymsFunctions(): FunctionList {
  const names = new Set<string>();
  for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const [, type, name] = line.split(/\s+/);
    if ((type === 't' || type === 'T') && name) names.add(name);
  }
  return { source: '/proc/kallsyms', names };
}

/**
 * The kernel's list of functions: the traceable ones (available_filter_functions) where the kernel lets
 * us read it, else every text symbol in kallsyms (this host answers EPERM for the former). Read once
 * per process: it is large and only changes when modules load.
 */
function kernelFunctions(): FunctionList {
  if (cachedList) return cachedList;
  try {
    cachedList = filterFunctions();
  } catch (filterErr) {
    try {
      cachedList = kallsymsFunctions();
    } catch (kallsymsErr) {
      throw new Error(`cannot list kernel functions: ${(filterErr as Error).message}; ${(kallsymsErr as Error).message}`);
    }
  }
  return cachedList;
}

/** `name`, once it is a C identifier and a function this kernel lists; otherwise says which check failed. */
export function kernelFunction(name: string): string {
  assertIdentifier('kernel function', name);
  const list = kernelFunctions();
  if (!list.names.has(name)) throw new Error(`kernel function ${name} is not in ${list.source} (inlined, renamed or not traceable on this kernel)`);
  return name;
}
