import { SYSCALL_NUMBERS_X86_64 } from './hookpoints.js';
import { assertIdentifier, assertSyscall, kernelFunction, syscallNumber } from './symbols.js';

/** How a BPF mechanism names kernel things: validating for attach, plain text for `hookbench list`. */
export interface Names {
  kernelFunction(name: string): string;
  identifier(name: string): string;
  syscall(name: string): string;
  syscallNumber(name: string): number | string;
}

export const CHECKED: Names = {
  kernelFunction,
  identifier: (name) => assertIdentifier('hook name', name),
  syscall: assertSyscall,
  syscallNumber,
};

export const AS_WRITTEN: Names = {
  kernelFunction: (name) => name,
  identifier: (name) => name,
  syscall: (name) => name,
  syscallNumber: (name) => (Object.hasOwn(SYSCALL_NUMBERS_X86_64, name) ? SYSCALL_NUMBERS_X86_64[name as keyof typeof SYSCALL_NUMBERS_X86_64] : '?'),
};

