/* A uprobe on the function the loader names. */
#include "count.bpf.h"

SEC("uprobe")
int hb_uprobe(void *ctx)
{
	hb_count();
	return 0;
}
