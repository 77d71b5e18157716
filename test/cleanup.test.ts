import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ftrace } from '../probes/ftrace.js';
import { kprobe } from '../probes/kprobe.js';
import { kretprobe } from '../probes/kretprobe.js';
import { hookbenchDynamicEvents, hookbenchInstances } from '../probes/tracefs.js';
import { uprobe } from '../probes/uprobe.js';
import type { Support } from '../probes/types.js';
import { ensureCliBuilt, expectKernelAsBefore, hookbench, journalEntries, journalFiles, newJournalDir, sleep, snapshot, startHookbench } from './cliHarness.js';
import { needsSupport, support } from './mechanisms-harness.js';

/**
 * `hookbench cleanup` after a real SIGKILL, for the tracefs mechanisms whose state outlives their
 * process (kprobe and kretprobe dynamic events, uprobe events, an instance's function tracer): a run is
 * killed while its probe is attached, the kernel keeps what it made, and cleanup alone, from the
 * journal, restores the state from before. test/faults.test.ts does this at many moments for the
 * mechanisms every Debian kernel has; this file is short enough to run in a guest (test/guest.test.ts),
 * where the kernel has kprobes and the function tracer.
 */
const MECHANISMS = [kprobe, kretprobe, ftrace, uprobe];
/** Long enough that the kill lands while measuring: the run is never allowed to finish. */
const RUN_ARGS = ['--workloads', 'mprotect', '--run-ms', '50', '--min-rounds', '15', '--max-rounds', '200', '--max-time', '600'];
const ATTACH_DEADLINE_MS = 240_000;

let journalDir: string;
let scratch: string;
const hosts = new Map<string, Support>();
for (const m of MECHANISMS) hosts.set(m.name, await support(m));

beforeAll(async () => {
  await ensureCliBuilt();
  journalDir = newJournalDir();
  scratch = mkdtempSync(join(tmpdir(), 'hookbench-cleanup-'));
});

afterAll(async () => {
  if (journalFiles(journalDir).length > 0) await hookbench(['cleanup'], { journalDir });
  rmSync(scratch, { recursive: true, force: true });
  rmSync(journalDir, { recursive: true, force: true });
});

/** This run's own tracefs objects: its tag carries its pid. */
const ownedBy = (pid: number): string[] => [...hookbenchInstances(), ...hookbenchDynamicEvents()].filter((n) => n.includes(`-${pid}-`) || n.includes(`_${pid}_`));

describe('a run SIGKILLed while its probe is attached', () => {
  for (const m of MECHANISMS) {
    it(`${m.name}: the kernel keeps the probe; \`hookbench cleanup\` alone removes it and the journal`, async (ctx) => {
      needsSupport(ctx, m.name, hosts.get(m.name));
      const before = await snapshot();
      const run = startHookbench(['run', '--mechanisms', m.name, ...RUN_ARGS, '--no-report', '--out', join(scratch, m.name)], { journalDir });
      // Attached: the journal names the run's tracefs state and the kernel shows it.
      const deadline = Date.now() + ATTACH_DEADLINE_MS;
      while (!run.exited() && Date.now() < deadline && !((journalEntries(journalDir, run.pid)?.length ?? 0) > 0 && ownedBy(run.pid).length > 0)) await sleep(5);
      expect(run.exited(), 'the run ended before its probe was attached').toBe(false);
      process.kill(run.pid, 'SIGKILL');
      expect((await run.done).signal).toBe('SIGKILL');
      const left = ownedBy(run.pid);
      expect(left.length, 'a SIGKILLed run leaves its probe in the kernel (else this test proves nothing)').toBeGreaterThan(0);
      expect(journalFiles(journalDir)).toEqual([`${run.pid}.json`]);

      const cleanup = await hookbench(['cleanup'], { journalDir });
      expect(cleanup.exitCode, cleanup.stderr).toBe(0);
      expect(cleanup.stdout).toMatch(/^removed /m);
      await expectKernelAsBefore(before, `after cleanup of a SIGKILLed ${m.name} run`);
      expect(journalFiles(journalDir)).toEqual([]);
    }, ATTACH_DEADLINE_MS + 120_000);
  }
});
