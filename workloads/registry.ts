/**
 * The one list of workloads hookbench can run. Each is a C program under workloads/ that times its
 * own loop and prints one JSON line (see common.h). Adding a workload: one C file, one entry here,
 * one row in probes/hookpoints.ts.
 */

/** A further program a workload needs, built beside it; its path follows the iteration count on the command line. */
export interface WorkloadArtefact {
  /** Binary name; also the process's comm (kept under 16 characters so the kernel does not cut it). */
  binary: string;
  source: string;
  /** Flags on top of the common ones. */
  extraFlags: readonly string[];
}

export interface WorkloadSpec {
  name: string;
  /** Binary name (`hb-` prefix: a comm no system process has). */
  binary: string;
  /** C file under workloads/, compiled together with common.c. */
  source: string;
  description: string;
  artefacts: readonly WorkloadArtefact[];
}

export const WORKLOADS: readonly WorkloadSpec[] = [
  {
    name: 'mprotect',
    binary: 'hb-mprotect',
    source: 'mprotect.c',
    description: 'mprotect toggling one anonymous page between read and read-write: one mprotect per op',
    artefacts: [],
  },
  {
    name: 'execve',
    binary: 'hb-execve',
    source: 'execve.c',
    description: 'fork + execve of a static do-nothing child + waitpid: one execve per op',
    artefacts: [{ binary: 'hb-execve-child', source: 'execve-child.c', extraFlags: ['-static'] }],
  },
  {
    name: 'null',
    binary: 'hb-null',
    source: 'null.c',
    description: 'raw getppid syscall: the cheapest syscall, for the collateral cost of a hook elsewhere',
    artefacts: [],
  },
  {
    name: 'open',
    binary: 'hb-open',
    source: 'open.c',
    description: 'open + close of one file in a private temp directory: one openat per op',
    artefacts: [],
  },
  {
    name: 'hids-mix',
    binary: 'hb-hids-mix',
    source: 'hids-mix.c',
    description:
      "one cycle of the syscalls behind Elkeid's default hooks per op (files, TCP, DNS to its own stub, setsid + execve, prctl, ptrace, memfd, tmpfs mount); prints its mix",
    artefacts: [{ binary: 'hb-hids-child', source: 'execve-child.c', extraFlags: ['-static'] }],
  },
  {
    name: 'build',
    binary: 'hb-build',
    source: 'build-project.c',
    description: 'one full clean build per op: make -j<CPUs> of a generated 201-source C project (the same bytes every run)',
    artefacts: [],
  },
];

export const WORKLOAD_NAMES: readonly string[] = WORKLOADS.map((w) => w.name);

export function workloadByName(name: string): WorkloadSpec | undefined {
  return WORKLOADS.find((w) => w.name === name);
}

/** `hookbench list`: one workload a line, name then what one op is. */
export function formatWorkloadList(): string {
  const width = Math.max(...WORKLOADS.map((w) => w.name.length));
  return WORKLOADS.map((w) => `${w.name.padEnd(width)}  ${w.description}`).join('\n');
}
