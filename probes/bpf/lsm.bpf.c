/* lsm through a BPF trampoline on the function or hook the loader names; returns 0 (changes nothing). */
#include "count.bpf.h"

SEC("lsm")
int hb_lsm(__u64 *ctx)
{
	hb_count();
	return 0;
}
