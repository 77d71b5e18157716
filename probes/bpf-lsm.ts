import { bareBpfMechanism } from './bareBpf.js';
import { assertBpfLsmActive, assertVmlinuxBtf } from './kernelBpf.js';

/** The operation's LSM hook (file_mprotect, bprm_check_security, file_open); the program only counts and allows. */
export const bpfLsm = bareBpfMechanism({
  name: 'bpf-lsm',
  type: 'lsm',
  where: "on the operation's LSM hook (BPF trampoline)",
  attachment: (t, names) => ({ target: names.identifier(t.lsmHook), syscallNr: -1 }),
  precheck: async () => {
    await assertVmlinuxBtf();
    await assertBpfLsmActive();
  },
});
