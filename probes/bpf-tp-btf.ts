import { bareBpfMechanism } from './bareBpf.js';
import { assertVmlinuxBtf } from './kernelBpf.js';

export const bpfTpBtf = bareBpfMechanism({
  name: 'bpf-tp-btf',
  type: 'tp_btf',
  where: "on the BTF-typed raw tracepoint sys_enter, keeping the syscall's id",
  attachment: (t, names) => ({ target: 'sys_enter', syscallNr: Number(names.syscallNumber(t.syscall)) }),
  precheck: assertVmlinuxBtf,
});
