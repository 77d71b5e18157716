/*
 * fork + execve of a static do-nothing child + waitpid: one execve per op. The child's path is
 * argv[2], or hb-execve-child beside this binary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void child_path_beside_self(char *out, size_t size) {
  char self[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len < 0) die("readlink /proc/self/exe");
  self[len] = '\0';
  if ((size_t)snprintf(out, size, "%s/hb-execve-child", dirname(self)) >= size) {
    errno = ENAMETOOLONG;
    die("child path");
  }
}

static void run_child(char *path) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    char *child_argv[] = {path, NULL};
    char *child_envp[] = {NULL};
    execve(path, child_argv, child_envp);
    fprintf(stderr, "execve: execve %s: %s\n", path, strerror(errno));
    _exit(127);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid) die("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "execve: child %s did not exit 0 (wait status %d)\n", path, status);
    exit(1);
  }
}

int main(int argc, char **argv) {
  long long n = parse_iterations(argc, argv, "execve", 1);
  char path[PATH_MAX];
  if (argc == 3) {
    if (strlen(argv[2]) >= sizeof path) {
      fprintf(stderr, "execve: child path too long\n");
      return 2;
    }
    strcpy(path, argv[2]);
  } else {
    child_path_beside_self(path, sizeof path);
  }

  int64_t start = start_timing();
  for (long long i = 0; i < n; i++) run_child(path);
  int64_t elapsed = now_ns() - start;

  report("execve", n, elapsed);
  return 0;
}
