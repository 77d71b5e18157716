/*
 * hookbench's loader of bare BPF programs (probes/bareBpf.ts starts it; nothing else should).
 *
 *   hb-bpf-loader [--comm NAME]... --attach OBJECT KIND TARGET SYSCALL_NR [--attach ...]
 *
 * Opens each object, writes the shared config (count.bpf.h) into its .rodata, loads it and attaches
 * its one program to TARGET the way KIND says. Once every program is attached it prints "ready". Each
 * "count" line on stdin is answered by "count N..." (each object's per-CPU slot summed over CPUs, in
 * --attach order). End of stdin, SIGTERM or the death of its parent ends it; the kernel detaches every
 * link and frees every program and map as their fds close, so nothing outlives the process (nothing is
 * pinned). A failure prints "error: KIND TARGET: step: reason" and exits 1; libbpf's own warnings
 * (the kernel's verifier log among them) go to stderr before it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define MAX_ATTACH 64
#define MAX_COMMS 4
#define COMM_LEN 16

/* Mirrors struct hb_config in count.bpf.h. */
struct hb_config {
	__u32 ncomms;
	__u32 pad;
	__s64 syscall_nr;
	char comms[MAX_COMMS][COMM_LEN];
};

struct attachment {
	const char *object_path;
	const char *kind;
	const char *target;
	long long syscall_nr;
	struct bpf_object *object;
	struct bpf_link *link;
	int hits_fd;
};

static struct hb_config config;
static struct attachment attachments[MAX_ATTACH];
static int nattachments;

static void fail(const struct attachment *a, const char *step, int err)
{
	fprintf(stderr, "error: %s %s: %s: %s (%s)\n", a->kind, a->target, step, strerror(err),
		err == EPERM ? "EPERM" : err == ENOENT ? "ENOENT" : err == EINVAL ? "EINVAL" : err == ENOTSUP ? "ENOTSUP" : err == ESRCH ? "ESRCH" : "errno");
	exit(1);
}

static void usage(const char *why)
{
	fprintf(stderr, "error: usage: %s\n", why);
	exit(2);
}

static int split_last(const char *text, char sep, char *head, size_t head_len, const char **tail)
{
	const char *at = strrchr(text, sep);

	if (!at || (size_t)(at - text) >= head_len)
		return -1;
	memcpy(head, text, at - text);
	head[at - text] = '\0';
	*tail = at + 1;
	return 0;
}

/* Kinds whose target is fixed at load time (BTF-resolved): the name goes in before bpf_object__load. */
static int needs_btf_target(const char *kind)
{
	return !strcmp(kind, "tp_btf") || !strcmp(kind, "fentry") || !strcmp(kind, "fexit") ||
	       !strcmp(kind, "fmod_ret") || !strcmp(kind, "lsm");
}

static struct bpf_link *attach_program(struct bpf_program *prog, const struct attachment *a)
{
	char head[4096];
	const char *tail;

	if (!strcmp(a->kind, "tp")) {
		if (split_last(a->target, '/', head, sizeof(head), &tail))
			fail(a, "parse target", EINVAL);
		return bpf_program__attach_tracepoint(prog, head, tail);
	}
	if (!strcmp(a->kind, "raw_tp"))
		return bpf_program__attach_raw_tracepoint(prog, a->target);
	if (!strcmp(a->kind, "kprobe") || !strcmp(a->kind, "kretprobe"))
		return bpf_program__attach_kprobe(prog, !strcmp(a->kind, "kretprobe"), a->target);
	if (!strcmp(a->kind, "kprobe.multi"))
		return bpf_program__attach_kprobe_multi_opts(prog, a->target, NULL);
	if (!strcmp(a->kind, "uprobe")) {
		char *end;
		unsigned long offset;

		if (split_last(a->target, ':', head, sizeof(head), &tail))
			fail(a, "parse target", EINVAL);
		errno = 0;
		offset = strtoul(tail, &end, 0);
		if (errno || *end)
			fail(a, "parse target", EINVAL);
		return bpf_program__attach_uprobe(prog, false, -1, head, offset);
	}
	if (needs_btf_target(a->kind))
		return bpf_program__attach(prog);
	fail(a, "kind", EINVAL);
	return NULL;
}

static void set_config(struct bpf_object *obj, const struct attachment *a)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		size_t len = strlen(name);

		if (len >= 7 && !strcmp(name + len - 7, ".rodata")) {
			struct hb_config c = config;

			c.syscall_nr = a->syscall_nr;
			if (bpf_map__value_size(map) != sizeof(c))
				fail(a, ".rodata is not struct hb_config", EINVAL);
			if (bpf_map__set_initial_value(map, &c, sizeof(c)))
				fail(a, "set config", EINVAL);
			return;
		}
	}
	fail(a, "no .rodata (struct hb_config)", ENOENT);
}

static void load_and_attach(struct attachment *a)
{
	struct bpf_program *prog;
	int err;

	a->object = bpf_object__open_file(a->object_path, NULL);
	if (!a->object)
		fail(a, "open object", errno);
	prog = bpf_object__next_program(a->object, NULL);
	if (!prog || bpf_object__next_program(a->object, prog))
		fail(a, "object must hold exactly one program", EINVAL);
	set_config(a->object, a);
	if (needs_btf_target(a->kind)) {
		err = bpf_program__set_attach_target(prog, 0, a->target);
		if (err)
			fail(a, "find BTF target", -err);
	}
	err = bpf_object__load(a->object);
	if (err)
		fail(a, "load", -err);
	a->link = attach_program(prog, a);
	if (!a->link)
		fail(a, "attach", errno);
	a->hits_fd = bpf_object__find_map_fd_by_name(a->object, "hb_hits");
	if (a->hits_fd < 0)
		fail(a, "find map hb_hits", -a->hits_fd);
}

static unsigned long long hits(const struct attachment *a, int ncpus)
{
	__u64 values[ncpus];
	__u32 slot = 0;
	unsigned long long total = 0;

	if (bpf_map_lookup_elem(a->hits_fd, &slot, values))
		fail(a, "read hb_hits", errno);
	for (int cpu = 0; cpu < ncpus; cpu++)
		total += values[cpu];
	return total;
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--comm") && i + 1 < argc) {
			if (config.ncomms == MAX_COMMS || strlen(argv[i + 1]) >= COMM_LEN)
				usage("at most 4 --comm names of at most 15 characters");
			strcpy(config.comms[config.ncomms++], argv[++i]);
		} else if (!strcmp(argv[i], "--attach") && i + 4 < argc) {
			struct attachment *a = &attachments[nattachments];
			char *end;

			if (nattachments == MAX_ATTACH)
				usage("at most 64 --attach");
			a->object_path = argv[i + 1];
			a->kind = argv[i + 2];
			a->target = argv[i + 3];
			errno = 0;
			a->syscall_nr = strtoll(argv[i + 4], &end, 10);
			if (errno || *end)
				usage("SYSCALL_NR must be a number (-1 for none)");
			nattachments++;
			i += 4;
		} else {
			usage("hb-bpf-loader [--comm NAME]... --attach OBJECT KIND TARGET SYSCALL_NR...");
		}
	}
	if (nattachments == 0)
		usage("no --attach");
}

int main(int argc, char **argv)
{
	pid_t parent = getppid();
	char line[64];
	int ncpus;

	/* The parent's death must end the loader, as a SIGKILL of hookbench would leave it running. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		usage("cannot count possible CPUs");
	for (int i = 0; i < nattachments; i++)
		load_and_attach(&attachments[i]);
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		if (strcmp(line, "count\n"))
			usage("stdin takes only 'count' lines");
		printf("count");
		for (int i = 0; i < nattachments; i++)
			printf(" %llu", hits(&attachments[i], ncpus));
		printf("\n");
	}
	for (int i = nattachments - 1; i >= 0; i--) {
		bpf_link__destroy(attachments[i].link);
		bpf_object__close(attachments[i].object);
	}
	return 0;
}
