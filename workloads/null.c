/* The cheapest real syscall: getppid, called raw so libc cannot answer from a cache. One per op. */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
  long long n = parse_iterations(argc, argv, "null", 0);

  int64_t start = start_timing();
  for (long long i = 0; i < n; i++) {
    if (syscall(SYS_getppid) < 0) die("getppid");
  }
  int64_t elapsed = now_ns() - start;

  report("null", n, elapsed);
  return 0;
}
