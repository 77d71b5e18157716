/* The BTF-typed raw tracepoint sys_enter (regs, id): args read directly, no copy; keeps the hooked id. */
#include "count.bpf.h"

SEC("tp_btf")
int hb_tp_btf(__u64 *ctx)
{
	if ((__s64)ctx[1] != hb_config.syscall_nr)
		return 0;
	hb_count();
	return 0;
}
