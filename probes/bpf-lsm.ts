import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { bpftraceMechanism } from './bpftrace.js';

const SECURITYFS = '/sys/kernel/security';

function isSecurityfsMounted(): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === SECURITYFS && line.split(' ')[2] === 'securityfs');
}

/**
 * BPF LSM programs run only where `bpf` is among the active LSMs. securityfs is mounted if needed and
 * left mounted, like tracefs: it changes no security state.
 */
async function assertBpfLsmActive(): Promise<void> {
  if (!isSecurityfsMounted()) {
    const r = await execa('mount', ['-t', 'securityfs', 'securityfs', SECURITYFS], { reject: false });
    if (r.exitCode !== 0) throw new Error(`cannot mount securityfs: ${r.stderr.trim() || r.exitCode}`);
  }
  const active = readFileSync(`${SECURITYFS}/lsm`, 'utf8').trim();
  if (!active.split(',').includes('bpf')) throw new Error(`BPF LSM is not active: 'bpf' is not in ${SECURITYFS}/lsm (${active})`);
}

/** The operation's LSM hook (file_mprotect, bprm_check_security, file_open); the program only counts and allows. */
export const bpfLsm = bpftraceMechanism({
  name: 'bpf-lsm',
  summary: 'bpftrace lsm probe on the operation\'s LSM hook, count() of the workload\'s calls (filtered on its comm) into a per-CPU map',
  probe: (t, names) => ({ type: 'lsm', target: names.identifier(t.lsmHook) }),
  precheck: assertBpfLsmActive,
});
