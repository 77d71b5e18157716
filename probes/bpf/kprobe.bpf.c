/* A kprobe on the function the loader names. */
#include "count.bpf.h"

SEC("kprobe")
int hb_kprobe(void *ctx)
{
	hb_count();
	return 0;
}
