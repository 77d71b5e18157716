import { bareBpfMechanism } from './bareBpf.js';

export const bpfRawTp = bareBpfMechanism({
  name: 'bpf-raw-tp',
  type: 'raw_tp',
  where: "on the raw tracepoint sys_enter, keeping the syscall's id",
  attachment: (t, names) => ({ target: 'sys_enter', syscallNr: Number(names.syscallNumber(t.syscall)) }),
});
