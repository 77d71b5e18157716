/*
 * open + close of one file in a private directory made by mkdtemp under $TMPDIR (or /tmp): one
 * openat per op (glibc's open is openat on x86-64). The directory is removed on exit, on failure
 * and on SIGINT/SIGTERM/SIGHUP.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

static char dir[PATH_MAX];
static char file[sizeof dir + 2]; /* dir + "/f" */

/* unlink and rmdir are async-signal-safe, so the signal handler can share this. */
static void remove_temp(void) {
  if (file[0]) unlink(file);
  if (dir[0]) rmdir(dir);
}

static void on_signal(int sig) {
  remove_temp();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void make_temp(void) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  if ((size_t)snprintf(dir, sizeof dir, "%s/hookbench-open-XXXXXX", base) >= sizeof dir) {
    fprintf(stderr, "open: TMPDIR too long\n");
    exit(2);
  }
  if (!mkdtemp(dir)) {
    dir[0] = '\0';
    die("mkdtemp");
  }
  snprintf(file, sizeof file, "%s/f", dir);
  int fd = open(file, O_CREAT | O_EXCL | O_WRONLY, 0600);
  if (fd < 0) die("create file");
  if (close(fd) != 0) die("close");
}

/* The normal way out checks what the exit handler cannot. */
static void remove_temp_checked(void) {
  if (unlink(file) != 0) die("unlink");
  file[0] = '\0';
  if (rmdir(dir) != 0) die("rmdir");
  dir[0] = '\0';
}

int main(int argc, char **argv) {
  long long n = parse_iterations(argc, argv, "open", 0);
  if (atexit(remove_temp) != 0) die("atexit");
  struct sigaction sa = {.sa_handler = on_signal};
  int signals[] = {SIGINT, SIGTERM, SIGHUP};
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
    if (sigaction(signals[i], &sa, NULL) != 0) die("sigaction");
  make_temp();

  int64_t start = start_timing();
  for (long long i = 0; i < n; i++) {
    int fd = open(file, O_RDONLY);
    if (fd < 0) die("open");
    if (close(fd) != 0) die("close");
  }
  int64_t elapsed = now_ns() - start;

  remove_temp_checked();
  report("open", n, elapsed);
  return 0;
}
