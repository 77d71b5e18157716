#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
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

void die(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", program, what, strerror(errno));
  exit(1);
}

void report(const char *name, long long ops, int64_t ns) {
  printf("{\"workload\":\"%s\",\"ops\":%lld,\"ns\":%lld,\"pid\":%d}\n", name, ops, (long long)ns, (int)getpid());
  if (fflush(stdout) != 0) die("write stdout");
}
