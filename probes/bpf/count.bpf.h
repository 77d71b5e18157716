/*
 * The one body every bare BPF program runs, so cells compare attach types, not programs: is the caller
 * one of the workload's processes (its comm, as the bpftrace and tracefs families scope), then one
 * increment of a per-CPU array slot. The loader (loader.c) fills hb_config before load; the verifier
 * sees it frozen and drops the branches a program does not need.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define HB_MAX_COMMS 4
#define HB_COMM_LEN 16

struct hb_config {
	/* 0: count every caller (a workload whose ops run other programs: its counts are lower bounds). */
	__u32 ncomms;
	__u32 pad;
	/* For programs that see every syscall (raw_tp, tp_btf on sys_enter): the one to count. */
	__s64 syscall_nr;
	/* NUL-padded comms, compared as two words: bpf_get_current_comm pads with NULs too. */
	__u64 comms[HB_MAX_COMMS][HB_COMM_LEN / 8];
};

const volatile struct hb_config hb_config = {};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hb_hits SEC(".maps");

char LICENSE[] SEC("license") = "GPL";

static __always_inline int hb_is_workload(void)
{
	__u64 comm[HB_COMM_LEN / 8] = {};

	if (hb_config.ncomms == 0)
		return 1;
	bpf_get_current_comm(comm, sizeof(comm));
#pragma unroll
	for (int i = 0; i < HB_MAX_COMMS; i++)
		if (i < hb_config.ncomms && comm[0] == hb_config.comms[i][0] && comm[1] == hb_config.comms[i][1])
			return 1;
	return 0;
}

static __always_inline void hb_count(void)
{
	__u32 slot = 0;
	__u64 *hits;

	if (!hb_is_workload())
		return;
	hits = bpf_map_lookup_elem(&hb_hits, &slot);
	if (hits)
		*hits += 1;
}
