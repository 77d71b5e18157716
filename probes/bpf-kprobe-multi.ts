import { bareBpfMechanism } from './bareBpf.js';

/** A kprobe.multi link (fprobe) naming one function: the attach type multi-function agents use. */
export const bpfKprobeMulti = bareBpfMechanism({
  name: 'bpf-kprobe-multi',
  type: 'kprobe.multi',
  where: "on the operation's kernel function, through a kprobe_multi link (fprobe)",
  attachment: (t, names) => ({ target: names.kernelFunction(t.kernelFunction), syscallNr: -1 }),
});
