/*
 * What every hookbench workload shares: strict argument parsing, the clock, failure reporting and
 * the one JSON line it prints. Exit codes: 0 ok, 1 a syscall failed, 2 bad command line.
 */
#ifndef HOOKBENCH_COMMON_H
#define HOOKBENCH_COMMON_H

#include <stdint.h>

/* Parses argv[1] as the iteration count; allows up to max_extra further arguments. Exits 2 on bad input. */
long long parse_iterations(int argc, char **argv, const char *name, int max_extra);

/* CLOCK_MONOTONIC in ns (vDSO: no syscall, so it never shows up in a hooked syscall's count). */
int64_t now_ns(void);

/* Starts a timed loop: notes the CPU it starts on (the first call's, for a workload that times several
 * stretches) and returns now_ns(). The report says where the loop started and ended, so a run that
 * migrated between CPUs of different speeds can be told from one that stayed put. With HOOKBENCH_GATE=1
 * the first call first prints "hookbench-ready <pid>" on stderr and waits for a byte on stdin (the
 * harness scopes its counting to this process meanwhile). */
int64_t start_timing(void);

/* The CPU the first start_timing() call ran on. */
int timing_start_cpu(void);

/* The CPU this thread runs on now: sched_getcpu, which glibc answers from rseq or the vDSO, so like the
 * clock it adds no syscall to a hooked count. Exits 1 if it fails. */
int current_cpu(void);

/* Reports a failed call with errno's words on stderr and exits 1 (atexit handlers run). */
void die(const char *what) __attribute__((noreturn));

/* Prints {"workload":...,"ops":...,"ns":...,"pid":...,"cpuStart":...,"cpuEnd":...} on stdout, cpuEnd
 * being the CPU at this call (call it right after the loop); exits 1 if stdout cannot take it. */
void report(const char *name, long long ops, int64_t ns);

#endif
