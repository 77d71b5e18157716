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

/* Reports a failed call with errno's words on stderr and exits 1 (atexit handlers run). */
void die(const char *what) __attribute__((noreturn));

/* Prints {"workload":...,"ops":...,"ns":...,"pid":...} on stdout; exits 1 if stdout cannot take it. */
void report(const char *name, long long ops, int64_t ns);

#endif
