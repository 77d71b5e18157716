/* A kprobe.multi on the function the loader names. */
#include "count.bpf.h"

SEC("kprobe.multi")
int hb_kprobe_multi(void *ctx)
{
	hb_count();
	return 0;
}
