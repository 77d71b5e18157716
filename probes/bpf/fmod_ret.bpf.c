/* fmod_ret through a BPF trampoline on the function or hook the loader names; returns 0 (changes nothing). */
#include "count.bpf.h"

SEC("fmod_ret")
int hb_fmod_ret(__u64 *ctx)
{
	hb_count();
	return 0;
}
