import { bareBpfMechanism } from './bareBpf.js';
import { assertVmlinuxBtf } from './kernelBpf.js';

export const bpfFentry = bareBpfMechanism({
  name: 'bpf-fentry',
  type: 'fentry',
  where: "on the operation's kernel function (BPF trampoline)",
  attachment: (t, names) => ({ target: names.kernelFunction(t.kernelFunction), syscallNr: -1 }),
  precheck: assertVmlinuxBtf,
});
