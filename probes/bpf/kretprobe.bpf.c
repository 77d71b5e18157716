/* A kretprobe on the function the loader names. */
#include "count.bpf.h"

SEC("kretprobe")
int hb_kretprobe(void *ctx)
{
	hb_count();
	return 0;
}
