/* A syscall tracepoint (perf-event attached): the loader names it, e.g. syscalls/sys_enter_mprotect. */
#include "count.bpf.h"

SEC("tp")
int hb_tp(void *ctx)
{
	hb_count();
	return 0;
}
