/* The raw tracepoint sys_enter: it sees every syscall, so the program keeps only the hooked one's id. */
#include "count.bpf.h"

SEC("raw_tp")
int hb_raw_tp(struct bpf_raw_tracepoint_args *ctx)
{
	if ((__s64)ctx->args[1] != hb_config.syscall_nr)
		return 0;
	hb_count();
	return 0;
}
