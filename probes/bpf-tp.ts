import { bareBpfMechanism } from './bareBpf.js';
import { ensureTracefs } from './tracefs.js';

export const bpfTp = bareBpfMechanism({
  name: 'bpf-tp',
  type: 'tp',
  where: "on the syscall tracepoint sys_enter_<syscall> (perf-event attached)",
  attachment: (t, names) => ({ target: `syscalls/sys_enter_${names.syscall(t.syscall)}`, syscallNr: -1 }),
  // libbpf reads the tracepoint's id from tracefs.
  precheck: async () => void (await ensureTracefs()),
});
