import { bareBpfMechanism } from './bareBpf.js';
import { assertVmlinuxBtf } from './kernelBpf.js';

/**
 * fmod_ret may only sit on functions whose return BPF is allowed to change: security_* ones on every
 * kernel (Debian's lack CONFIG_FUNCTION_ERROR_INJECTION, which would add the syscall entries). The
 * program returns 0, which lets the call run unchanged.
 */
export const bpfFmodRet = bareBpfMechanism({
  name: 'bpf-fmod-ret',
  type: 'fmod_ret',
  where: "on the operation's security_* function (BPF trampoline, return left unchanged)",
  attachment: (t, names) => ({ target: names.kernelFunction(t.securityFunction), syscallNr: -1 }),
  precheck: assertVmlinuxBtf,
});
