/* Toggles one anonymous page between PROT_READ and PROT_READ|PROT_WRITE: one mprotect per op. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
  long long n = parse_iterations(argc, argv, "mprotect", 0);
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  /* Three pages, PROT_NONE: the toggled middle page's neighbours never match its protection, so the
   * kernel never merges or splits VMAs in the loop and every op does the same work. */
  char *area = mmap(NULL, 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) die("mmap");
  char *target = area + page;

  int64_t start = start_timing();
  for (long long i = 0; i < n; i++) {
    int prot = (i & 1) ? PROT_READ : PROT_READ | PROT_WRITE;
    if (mprotect(target, page, prot) != 0) die("mprotect");
  }
  int64_t elapsed = now_ns() - start;

  report("mprotect", n, elapsed);
  return 0;
}
