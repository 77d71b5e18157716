import { confineHarness, harnessCpus, onlineCpus } from './cpus.js';
import type { Placement } from './results.js';

/** Where a run's blocks go, and hookbench's own processes meanwhile. */
export interface RunPlacement {
  placement: Placement;
  /** Pins nothing itself: returns the CPU block `block` of a cell runs on and moves hookbench off it. */
  placeBlock(block: number): Promise<number>;
  /** Gives hookbench back the CPUs it had. */
  release(): Promise<void>;
}

/**
 * The vCPUs of a cloud VM can run at different speeds for minutes at a time, so an unpinned run
 * lands on a fast or a slow one at random and per-run times form two clusters. Both arms of every
 * round therefore run on the same CPU, and a cell's blocks rotate over the measurement CPUs (every
 * online CPU unless `--cpu` says otherwise): each cell sees every CPU, and the CI's between-block
 * spread includes their difference, so a repeat of the run, which may find the other CPU slow, still
 * falls within it. While a block runs, node and everything it starts (perf, bpftrace, auditd,
 * readers) are kept on the other CPUs; on a one-CPU machine nothing can be isolated and the
 * placement says so.
 */
export async function placeRun(requested: readonly number[] | null): Promise<RunPlacement> {
  const online = onlineCpus();
  const cpus = requested ? [...requested] : online;
  const isolated = online.length > 1;
  const policy = !isolated
    ? 'one CPU: the workload and hookbench share it, nothing could be isolated'
    : `${requested ? '--cpu' : 'default: every online CPU'}: a cell's blocks rotate over CPUs ${cpus.join(',')}, both arms of a round on the same one; hookbench's own processes on the other online CPUs during each block`;
  let restore: (() => Promise<void>) | undefined;
  let confinedTo = '';
  return {
    placement: { measurementCpus: cpus, harnessIsolated: isolated, policy },
    async placeBlock(block) {
      const cpu = cpus[block % cpus.length]!;
      const harness = harnessCpus(cpu, online);
      if (isolated && harness.join(',') !== confinedTo) {
        const undo = await confineHarness(harness);
        restore ??= undo;
        confinedTo = harness.join(',');
      }
      return cpu;
    },
    async release() {
      await restore?.();
      restore = undefined;
      confinedTo = '';
    },
  };
}
