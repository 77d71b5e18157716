/*
 * hids-mix: one process cycling through the syscalls behind Elkeid's default hooks (the article's
 * section 5.2), in fixed proportions. One op = one cycle of MIX below:
 *   files    create (openat O_CREAT), chmod, rename, link, in a private temp directory
 *   network  bind + listen of a loopback TCP server, connect + accept to it; DNS queries (UDP sendto +
 *            recvfrom) to a stub resolver on 127.0.0.1 that a thread of this process runs
 *   process  fork: the child calls setsid, then execve of a static do-nothing helper; prctl
 *            PR_SET_NAME; ptrace PTRACE_POKEDATA into a child this process traces; memfd_create
 *   mount    a tmpfs mounted and unmounted in a private mount namespace (unshare once, at set-up)
 * Every hooked call is counted where it is made (the stub thread's too, before the answer leaves) and
 * the line carries "mix": those counts per op, so what the hooks must see is the workload's own word.
 * Set-up and tear-down (listener of the stub, the traced child, the namespace) happen outside the timed
 * loop and outside the counts. Usage: hids-mix ITERATIONS [HELPER], HELPER defaults to hb-hids-child
 * beside this binary. Needs root (mount namespace, tmpfs). Exits 1 naming the call if any fails.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* The syscalls the loop makes that some default Elkeid hook watches, named as x86-64 calls them. */
enum call { OPENAT, CHMOD, RENAME, LINK, BIND, CONNECT, ACCEPT, SENDTO, RECVFROM, EXECVE, SETSID, PRCTL, PTRACE, MEMFD_CREATE, MOUNT, N_CALLS };
static const char *const CALL_NAMES[N_CALLS] = {
    "openat", "chmod", "rename", "link", "bind", "connect", "accept", "sendto", "recvfrom", "execve", "setsid", "prctl", "ptrace", "memfd_create", "mount",
};

/* One cycle: how often each activity runs. Files and connections dominate, as on a busy host. */
enum { FILES_PER_OP = 4, CHMODS_PER_OP = 2, RENAMES_PER_OP = 2, LINKS_PER_OP = 1, CONNECTS_PER_OP = 2, DNS_PER_OP = 2, POKES_PER_OP = 2 };

/* Counted with atomics: the stub thread counts its own calls. */
static long long calls[N_CALLS];
static void counted(enum call c) { __atomic_fetch_add(&calls[c], 1, __ATOMIC_SEQ_CST); }

static char dir[PATH_MAX - 64];
static char mnt[PATH_MAX];
static volatile sig_atomic_t mounted;
static pid_t tracee;

/* Async-signal-safe: shared by the exit handler and the signal handler. */
static void remove_temp(void) {
  char path[PATH_MAX];
  if (mounted) umount2(mnt, MNT_DETACH);
  if (tracee > 0) kill(tracee, SIGKILL);
  if (!dir[0]) return;
  static const char *const leftovers[] = {"f0", "f1", "f2", "f3", "r0", "r1", "l0", "mnt"};
  for (size_t i = 0; i < sizeof leftovers / sizeof leftovers[0]; i++) {
    /* snprintf is not async-signal-safe: build the path by hand. */
    size_t n = strlen(dir);
    memcpy(path, dir, n);
    path[n] = '/';
    strcpy(path + n + 1, leftovers[i]);
    if (unlink(path) != 0) rmdir(path);
  }
  rmdir(dir);
}

static void on_signal(int sig) {
  remove_temp();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void path_in_dir(char *out, const char *name) { snprintf(out, PATH_MAX, "%s/%s", dir, name); }

static void setup_temp_dir(void) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  if ((size_t)snprintf(dir, sizeof dir, "%s/hookbench-hids-XXXXXX", base) >= sizeof dir) {
    fprintf(stderr, "hids-mix: TMPDIR too long\n");
    exit(2);
  }
  if (!mkdtemp(dir)) {
    dir[0] = '\0';
    die("mkdtemp");
  }
  path_in_dir(mnt, "mnt");
  if (mkdir(mnt, 0700) != 0) die("mkdir mnt");
}

/* A private mount namespace: the tmpfs mounts of the loop are never seen outside this process. */
static void setup_mount_namespace(void) {
  if (unshare(CLONE_NEWNS) != 0) die("unshare CLONE_NEWNS");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("mount --make-rprivate /");
}

/* ---- files ---- */

static void file_activity(void) {
  char f[FILES_PER_OP][PATH_MAX], r[RENAMES_PER_OP][PATH_MAX], l[PATH_MAX];
  for (int i = 0; i < FILES_PER_OP; i++) {
    char name[4] = {'f', (char)('0' + i), 0};
    path_in_dir(f[i], name);
    counted(OPENAT);
    int fd = open(f[i], O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd < 0) die("create file");
    if (close(fd) != 0) die("close");
  }
  for (int i = 0; i < CHMODS_PER_OP; i++) {
    counted(CHMOD);
    if (chmod(f[i], 0640) != 0) die("chmod");
  }
  for (int i = 0; i < RENAMES_PER_OP; i++) {
    char name[4] = {'r', (char)('0' + i), 0};
    path_in_dir(r[i], name);
    counted(RENAME);
    if (rename(f[i], r[i]) != 0) die("rename");
  }
  path_in_dir(l, "l0");
  counted(LINK);
  if (link(r[0], l) != 0) die("link");
  if (unlink(l) != 0) die("unlink");
  for (int i = 0; i < RENAMES_PER_OP; i++)
    if (unlink(r[i]) != 0) die("unlink");
  for (int i = RENAMES_PER_OP; i < FILES_PER_OP; i++)
    if (unlink(f[i]) != 0) die("unlink");
}

/* ---- network ---- */

static struct sockaddr_in loopback(uint16_t port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  return a;
}

/* A server on a kernel-chosen loopback port, connected to CONNECTS_PER_OP times. Clients close with
 * an RST (linger 0), so no TIME_WAIT socket piles up across thousands of cycles. */
static void tcp_activity(void) {
  int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server < 0) die("socket");
  struct sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  counted(BIND);
  if (bind(server, (struct sockaddr *)&addr, sizeof addr) != 0) die("bind");
  if (listen(server, CONNECTS_PER_OP) != 0) die("listen");
  if (getsockname(server, (struct sockaddr *)&addr, &len) != 0) die("getsockname");
  for (int i = 0; i < CONNECTS_PER_OP; i++) {
    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client < 0) die("socket");
    struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
    if (setsockopt(client, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) != 0) die("setsockopt SO_LINGER");
    counted(CONNECT);
    if (connect(client, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
    counted(ACCEPT);
    int conn = accept(server, NULL, NULL);
    if (conn < 0) die("accept");
    if (close(client) != 0 || close(conn) != 0) die("close");
  }
  if (close(server) != 0) die("close");
}

/* A DNS query for hookbench.test. IN A, and the stub's answer 127.0.0.1 (RFC 1035 wire format). */
static const unsigned char QUESTION[] = {9, 'h', 'o', 'o', 'k', 'b', 'e', 'n', 'c', 'h', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};
enum { HEADER = 12, QUERY_LEN = HEADER + sizeof QUESTION, ANSWER_RR = 16, ANSWER_LEN = QUERY_LEN + ANSWER_RR };
static const unsigned char ANSWER_RECORD[ANSWER_RR] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
/* A datagram this long tells the stub to stop: it is no DNS message. */
enum { STOP_LEN = 1 };

static int stub_socket;
static struct sockaddr_in stub_addr;
static int client_socket;

/* Answers every well-formed query for the one name it knows; stops on STOP_LEN datagrams. */
static void *stub_resolver(void *unused) {
  (void)unused;
  unsigned char buf[512];
  for (;;) {
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    ssize_t n = recvfrom(stub_socket, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
    if (n < 0) die("stub recvfrom");
    if (n == STOP_LEN) return NULL;
    counted(RECVFROM);
    if (n != QUERY_LEN || memcmp(buf + HEADER, QUESTION, sizeof QUESTION) != 0) {
      fprintf(stderr, "hids-mix: stub: malformed query\n");
      exit(1);
    }
    buf[2] = 0x81, buf[3] = 0x80; /* response, recursion desired and available, no error */
    buf[6] = 0, buf[7] = 1;       /* one answer */
    memcpy(buf + QUERY_LEN, ANSWER_RECORD, ANSWER_RR);
    counted(SENDTO);
    if (sendto(stub_socket, buf, ANSWER_LEN, 0, (struct sockaddr *)&peer, len) != ANSWER_LEN) die("stub sendto");
  }
}

static pthread_t stub_thread;

static void start_stub_resolver(void) {
  stub_socket = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  client_socket = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (stub_socket < 0 || client_socket < 0) die("socket");
  stub_addr = loopback(0);
  socklen_t len = sizeof stub_addr;
  if (bind(stub_socket, (struct sockaddr *)&stub_addr, sizeof stub_addr) != 0) die("bind stub");
  if (getsockname(stub_socket, (struct sockaddr *)&stub_addr, &len) != 0) die("getsockname");
  int err = pthread_create(&stub_thread, NULL, stub_resolver, NULL);
  if (err != 0) {
    errno = err;
    die("pthread_create");
  }
}

static void stop_stub_resolver(void) {
  if (sendto(client_socket, "x", STOP_LEN, 0, (struct sockaddr *)&stub_addr, sizeof stub_addr) != STOP_LEN) die("sendto stop");
  int err = pthread_join(stub_thread, NULL);
  if (err != 0) {
    errno = err;
    die("pthread_join");
  }
}

static void dns_activity(uint16_t id) {
  unsigned char query[QUERY_LEN] = {(unsigned char)(id >> 8), (unsigned char)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(query + HEADER, QUESTION, sizeof QUESTION);
  counted(SENDTO);
  if (sendto(client_socket, query, sizeof query, 0, (struct sockaddr *)&stub_addr, sizeof stub_addr) != QUERY_LEN) die("sendto");
  unsigned char answer[512];
  counted(RECVFROM);
  ssize_t n = recvfrom(client_socket, answer, sizeof answer, 0, NULL, NULL);
  if (n < 0) die("recvfrom");
  if (n != ANSWER_LEN || answer[0] != query[0] || answer[1] != query[1] || memcmp(answer + QUERY_LEN, ANSWER_RECORD, ANSWER_RR) != 0) {
    fprintf(stderr, "hids-mix: DNS answer does not match the query\n");
    exit(1);
  }
}

/* ---- processes ---- */

static void helper_beside_self(char *out, size_t size) {
  char self[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len < 0) die("readlink /proc/self/exe");
  self[len] = '\0';
  if ((size_t)snprintf(out, size, "%s/hb-hids-child", dirname(self)) >= size) {
    errno = ENAMETOOLONG;
    die("helper path");
  }
}

/* fork; the child leaves the session (setsid) and becomes the static helper (execve). */
static void session_and_exec(char *helper) {
  counted(SETSID);
  counted(EXECVE);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    char *argv[] = {helper, NULL};
    char *envp[] = {NULL};
    if (setsid() < 0) _exit(126);
    execve(helper, argv, envp);
    _exit(127);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid) die("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "hids-mix: helper %s: setsid or execve failed (wait status %d)\n", helper, status);
    exit(1);
  }
}

/* The word the parent writes into its traced child (same address there: the child is a fork). */
static volatile long poke_target;

/* A child that asks to be traced and stops; it dies with this process (PR_SET_PDEATHSIG). */
static void start_tracee(void) {
  pid_t parent = getpid();
  tracee = fork();
  if (tracee < 0) die("fork");
  if (tracee == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(1);
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) _exit(1);
    raise(SIGSTOP);
    for (;;) pause();
  }
  int status;
  if (waitpid(tracee, &status, 0) != tracee) die("waitpid tracee");
  if (!WIFSTOPPED(status)) {
    fprintf(stderr, "hids-mix: traced child did not stop (wait status %d)\n", status);
    exit(1);
  }
}

static void stop_tracee(void) {
  if (kill(tracee, SIGKILL) != 0) die("kill tracee");
  if (waitpid(tracee, NULL, 0) != tracee) die("waitpid tracee");
  tracee = 0;
}

static void process_activity(char *helper, long long i) {
  session_and_exec(helper);
  counted(PRCTL);
  if (prctl(PR_SET_NAME, "hb-hids-mix") != 0) die("prctl PR_SET_NAME");
  for (int j = 0; j < POKES_PER_OP; j++) {
    counted(PTRACE);
    if (ptrace(PTRACE_POKEDATA, tracee, (void *)&poke_target, (void *)(long)(i + j)) != 0) die("ptrace PTRACE_POKEDATA");
  }
  counted(MEMFD_CREATE);
  int fd = memfd_create("hookbench", MFD_CLOEXEC);
  if (fd < 0) die("memfd_create");
  if (close(fd) != 0) die("close");
}

static void mount_activity(void) {
  counted(MOUNT);
  if (mount("hookbench", mnt, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k") != 0) die("mount tmpfs");
  mounted = 1;
  if (umount2(mnt, 0) != 0) die("umount");
  mounted = 0;
}

/* ---- the run ---- */

static void report_mix(long long ops, int64_t ns) {
  int end_cpu = current_cpu();
  printf("{\"workload\":\"hids-mix\",\"ops\":%lld,\"ns\":%lld,\"pid\":%d,\"cpuStart\":%d,\"cpuEnd\":%d,\"mix\":{", ops, (long long)ns, (int)getpid(),
         timing_start_cpu(), end_cpu);
  for (int c = 0; c < N_CALLS; c++) {
    if (calls[c] % ops != 0) {
      fprintf(stderr, "hids-mix: %lld %s calls in %lld ops: the mix is not fixed\n", calls[c], CALL_NAMES[c], ops);
      exit(1);
    }
    printf("%s\"%s\":%lld", c ? "," : "", CALL_NAMES[c], calls[c] / ops);
  }
  printf("}}\n");
  if (fflush(stdout) != 0) die("write stdout");
}

int main(int argc, char **argv) {
  long long n = parse_iterations(argc, argv, "hids-mix", 1);
  char helper[PATH_MAX];
  if (argc == 3) {
    if (strlen(argv[2]) >= sizeof helper) {
      fprintf(stderr, "hids-mix: helper path too long\n");
      return 2;
    }
    strcpy(helper, argv[2]);
  } else {
    helper_beside_self(helper, sizeof helper);
  }
  if (atexit(remove_temp) != 0) die("atexit");
  struct sigaction sa = {.sa_handler = on_signal};
  int signals[] = {SIGINT, SIGTERM, SIGHUP};
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
    if (sigaction(signals[i], &sa, NULL) != 0) die("sigaction");

  /* Before any thread: unshare(CLONE_NEWNS) refuses a process whose threads share its fs. */
  setup_mount_namespace();
  setup_temp_dir();
  start_tracee();
  start_stub_resolver();

  int64_t start = start_timing();
  for (long long i = 0; i < n; i++) {
    file_activity();
    tcp_activity();
    for (int j = 0; j < DNS_PER_OP; j++) dns_activity((uint16_t)(i * DNS_PER_OP + j));
    process_activity(helper, i);
    mount_activity();
  }
  int64_t elapsed = now_ns() - start;

  stop_stub_resolver();
  stop_tracee();
  report_mix(n, elapsed);
  return 0;
}
