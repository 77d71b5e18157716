import { bareBpfMechanism } from './bareBpf.js';
import { assertProbePmu } from './kernelBpf.js';
import { LIBC_WRAPPER, uprobeSite } from './uprobe.js';

/** The same site as the tracefs uprobe: the libc wrapper the workload calls, in every process. */
export const bpfUprobe = bareBpfMechanism({
  name: 'bpf-uprobe',
  type: 'uprobe',
  where: 'on the libc wrapper the workload calls (uprobe PMU)',
  hookPoint: (t) => `uprobe/libc:${LIBC_WRAPPER[t.syscall] ?? '?'}`,
  attachment: async (t) => {
    const site = await uprobeSite(t);
    return { target: `${site.library}:0x${site.offset.toString(16)}`, syscallNr: -1 };
  },
  precheck: () => assertProbePmu('uprobe'),
});
