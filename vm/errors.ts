/**
 * Bad input to `hookbench vm` (a malformed kernel spec, a missing file, an unknown option value).
 * The CLI prints its message as one line and exits 2, before any VM boots.
 */
export class VmUsageError extends Error {}

/** Something the host needs is missing or failed (apt-get, dpkg-deb, depmod, a decompressor). Exit 2. */
export class VmEnvironmentError extends Error {}

export type VmFailureKind = 'qemu-failed' | 'panic' | 'never-ran' | 'timeout' | 'interrupted';

/**
 * A guest that did not run its command to the end: the kernel panicked, qemu refused to start, the
 * init never reached the command, or the time ran out. Names the kernel and carries the last
 * console lines, because those are the only evidence of what the guest saw.
 */
export class VmRunError extends Error {
  constructor(
    readonly kernel: string,
    readonly kind: VmFailureKind,
    readonly detail: string,
    readonly consoleTail: string[],
  ) {
    super(`kernel ${kernel}: ${detail}`);
  }

  /** The message plus the console lines, for a terminal. */
  report(): string {
    const tail = this.consoleTail.length ? this.consoleTail.map((l) => `  | ${l}`).join('\n') : '  | (no console output)';
    return `${this.message}\nlast console lines:\n${tail}`;
  }
}
