import { bareBpfMechanism } from './bareBpf.js';
import { assertProbePmu } from './kernelBpf.js';

export const bpfKprobe = bareBpfMechanism({
  name: 'bpf-kprobe',
  type: 'kprobe',
  where: "on the operation's kernel function (kprobe PMU)",
  attachment: (t, names) => ({ target: names.kernelFunction(t.kernelFunction), syscallNr: -1 }),
  precheck: () => assertProbePmu('kprobe'),
});
