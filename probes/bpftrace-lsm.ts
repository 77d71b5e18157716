import { bpftraceMechanism } from './bpftrace.js';
import { assertBpfLsmActive } from './kernelBpf.js';

/** The operation's LSM hook (file_mprotect, bprm_check_security, file_open); the program only counts and allows. */
export const bpftraceLsm = bpftraceMechanism({
  name: 'bpftrace-lsm',
  summary: 'bpftrace lsm probe on the operation\'s LSM hook, count() of the workload\'s calls (filtered on its comm) into a per-CPU map',
  probe: (t, names) => ({ type: 'lsm', target: names.identifier(t.lsmHook) }),
  precheck: assertBpfLsmActive,
});
