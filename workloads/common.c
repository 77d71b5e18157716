#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Far above any calibrated run (1e12 getppid calls is hours), far below overflow of ns arithmetic. */
#define MAX_ITERATIONS 1000000000000LL

static const char *program = "workload";

static void usage(const char *name, const char *why) __attribute__((noreturn));
static void usage(const char *name, const char *why) {
  fprintf(stderr, "%s: %s (usage: %s ITERATIONS, a whole number from 1 to %lld)\n", name, why, name, MAX_ITERATIONS);
  exit(2);
}

long long parse_iterations(int argc, char **argv, const char *name, int max_extra) {
  program = name;
  if (argc < 2) usage(name, "missing iteration count");
  if (argc > 2 + max_extra) usage(name, "too many arguments");
  const char *text = argv[1];
  /* Digits only, no sign, no blanks, no leading zero: strtoll alone would take " +010". */
  size_t len = strlen(text);
  if (len == 0 || len > 13 || text[0] == '0' || strspn(text, "0123456789") != len)
    usage(name, "iteration count is not a whole number from 1 up");
  long long n = strtoll(text, NULL, 10);
  if (n > MAX_ITERATIONS) usage(name, "iteration count too large");
  return n;
}

int64_t now_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) die("clock_gettime");
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* -1 until the first start_timing(): a line with it would fail the harness's schema, never pass as a CPU. */
static int start_cpu = -1;

int current_cpu(void) {
  int cpu = sched_getcpu();
  if (cpu < 0) die("sched_getcpu");
  return cpu;
}

/*
 * With HOOKBENCH_GATE=1 in the environment, the first start_timing() waits before the timed loop: it
 * says which process it is on stderr and blocks until a byte arrives on stdin. In between, hookbench
 * narrows a probe's counting scope to this process and what it forks from then on, so the launcher's
 * calls (perf's, taskset's, the loader's and this program's set-up) never count.
 */
static void await_go(void) {
  const char *gate = getenv("HOOKBENCH_GATE");
  if (gate == NULL || strcmp(gate, "1") != 0) return;
  fprintf(stderr, "hookbench-ready %d\n", (int)getpid());
  if (fflush(stderr) != 0) die("write stderr");
  char go;
  ssize_t got;
  do got = read(STDIN_FILENO, &go, 1);
  while (got < 0 && errno == EINTR);
  if (got != 1) {
    errno = got == 0 ? EPIPE : errno;
    die("wait for hookbench's go on stdin");
  }
}

int64_t start_timing(void) {
  /* Only the first stretch's CPU: build times one stretch per op, and a move between them is a migration too. */
  if (start_cpu < 0) {
    await_go();
    start_cpu = current_cpu();
  }
  return now_ns();
}

int timing_start_cpu(void) { return start_cpu; }

void die(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", program, what, strerror(errno));
  exit(1);
}

void report(const char *name, long long ops, int64_t ns) {
  int end_cpu = current_cpu();
  printf("{\"workload\":\"%s\",\"ops\":%lld,\"ns\":%lld,\"pid\":%d,\"cpuStart\":%d,\"cpuEnd\":%d}\n", name, ops, (long long)ns, (int)getpid(),
         timing_start_cpu(), end_cpu);
  if (fflush(stdout) != 0) die("write stdout");
}
