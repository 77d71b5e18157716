import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { applyProfileOption, parseProfileOption, registerRunProfiles } from '../bench/profileOptions.js';
import { profileCellInvalidReason } from '../bench/profileCells.js';
import { DEFAULT_OPTIONS } from '../bench/planner.js';
import { UsageError } from '../bench/errors.js';
import type { RunOptions } from '../bench/results.js';
import { countingProgram } from '../probes/bpftrace.js';
import { hookTargetFor } from '../probes/hookpoints.js';
import { undoAll } from '../probes/undo.js';
import { describeMissing, ELKEID_DEFAULT, HOOK_NAMES, perHookInvalidReason, profileByName, profileMechanismByName, resolveHooks, type ProfileMechanism } from '../probes/profiles.js';
import { realisationByName } from '../probes/profileRealisations.js';
import { bpfStatsValue, expectNothingLeft, needsSupport, newContext, probedRun } from './mechanisms-harness.js';

/**
 * Hook profiles: the --profile option and its file format, and the elkeid-default profile attached for
 * real on this kernel with every realisation the kernel supports, each hook's count held to the
 * hids-mix workload's mix. A realisation the kernel lacks is a skip carrying detect()'s reason.
 */

const scratch = mkdtempSync(join(tmpdir(), 'hookbench-profiles-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const OPTIONS: RunOptions = { ...DEFAULT_OPTIONS, mechanisms: ['tracepoint'], workloads: ['hids-mix'] };

function profileFile(name: string, content: unknown): string {
  const path = join(scratch, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('--profile: built-in names and files, validated', () => {
  it('names the built-in elkeid-default and adds one cell per realisation', () => {
    expect(parseProfileOption('elkeid-default')).toBe(ELKEID_DEFAULT);
    const options = applyProfileOption(OPTIONS, 'elkeid-default', false);
    expect(options.mechanisms).toEqual([
      'elkeid-default/tracepoint',
      'elkeid-default/raw-syscalls',
      'elkeid-default/kprobe',
      'elkeid-default/audit',
      'elkeid-default/bpf-tp',
      'elkeid-default/bpf-kprobe',
      'elkeid-default/bpftrace-tracepoint',
      'elkeid-default/bpftrace-rawtracepoint',
      'elkeid-default/bpftrace-kprobe',
    ]);
    expect(applyProfileOption(OPTIONS, 'elkeid-default', true).mechanisms[0]).toBe('tracepoint');
    for (const name of options.mechanisms) expect(profileMechanismByName(name)?.name).toBe(name);
    expect(profileMechanismByName('elkeid-default/nope')).toBeUndefined();
    expect(profileMechanismByName('elkeid-default/tracepoint/x')).toBeUndefined();
  });

  it('reads a profile file, keeps it in the run options, and registers it again on resume', () => {
    const path = profileFile('agent.json', { name: 'my-agent', description: 'exec and network', hooks: ['execve', 'connect', 'dns'], realisations: ['tracepoint', 'audit'] });
    const options = applyProfileOption(OPTIONS, path, false);
    expect(options.mechanisms).toEqual(['my-agent/tracepoint', 'my-agent/audit']);
    expect(options.profiles).toEqual([{ name: 'my-agent', description: 'exec and network', hooks: ['execve', 'connect', 'dns'], realisations: ['tracepoint', 'audit'] }]);
    expect(profileByName('my-agent')?.hooks).toEqual(['execve', 'connect', 'dns']);
    expect(() => registerRunProfiles(options)).not.toThrow();
    const m = profileMechanismByName('my-agent/tracepoint') as ProfileMechanism;
    expect(m.expectedPerHook(hookTargetFor('hids-mix'))).toEqual({ execve: 1, connect: 2, dns: 4 });
  });

  const refused: [string, unknown, RegExp][] = [
    ['unknown hook', { name: 'x', hooks: ['execve', 'keylogger'] }, /unknown hook 'keylogger'.*known: connect, bind/],
    ['unknown realisation', { name: 'x', hooks: ['execve'], realisations: ['magic'] }, /unknown realisation 'magic'/],
    ['repeated hook', { name: 'x', hooks: ['execve', 'execve'] }, /names a hook twice/],
    ['bad name', { name: 'X;reboot', hooks: ['execve'] }, /name/],
    ['extra field', { name: 'x', hooks: ['execve'], script: 'kprobe:vfs_read { system("id") }' }, /script/],
    ['no hooks', { name: 'x', hooks: [] }, /hooks/],
    ['not JSON', '{"name": ', /not JSON/],
    ['built-in name redefined', { name: 'elkeid-default', hooks: ['execve'] }, /already known \(built in\)/],
  ];
  it.each(refused)('refuses a file with %s: UsageError (exit 2), one line', (_what, content, message) => {
    const path = profileFile(`bad-${Math.random().toString(36).slice(2)}.json`, content);
    let error: unknown;
    try {
      applyProfileOption(OPTIONS, path, false);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('refuses an unknown built-in name and a missing file', () => {
    expect(() => parseProfileOption('elkeid-sandbox')).toThrow(UsageError);
    expect(() => parseProfileOption('../../etc/passwd')).toThrow(/unknown profile/);
    expect(() => parseProfileOption(join(scratch, 'missing.json'))).toThrow(/cannot read it \(ENOENT\)/);
  });
});

describe('expected events per hook come from the workload mix', () => {
  const tracepoint = profileMechanismByName('elkeid-default/tracepoint')!;
  const raw = profileMechanismByName('elkeid-default/raw-syscalls')!;
  const kprobe = profileMechanismByName('elkeid-default/kprobe')!;

  it('hids-mix: per hook, enter and exit for raw syscalls, reached-by at the function layer', () => {
    const mix = hookTargetFor('hids-mix');
    expect(tracepoint.expectedPerHook(mix)).toMatchObject({ connect: 2, bind: 1, execve: 1, rename: 2, link: 1, chmod: 2, ptrace: 2, setsid: 1, prctl: 1, mount: 1, memfd_create: 1, dns: 4, create_file: 4, load_module: 0, update_cred: 0 });
    expect(raw.expectedPerHook(mix).dns).toBe(8);
    expect(kprobe.expectedPerHook(mix)).toMatchObject({ dns: 4, create_file: 0, update_cred: 1 });
    expect(tracepoint.expectedPerOp(mix)).toBe(23);
    expect(tracepoint.expectedPerOp(hookTargetFor('null'))).toBe(0);
  });

  it('a hook short of its mix makes the run and the cell INVALID, even when the total is right', () => {
    expect(perHookInvalidReason({ connect: 20, dns: 40 }, 10, { connect: 2, dns: 4, load_module: 0 })).toBeNull();
    expect(perHookInvalidReason({ connect: 0, dns: 60 }, 10, { connect: 2, dns: 4 })).toBe("hooks that fired less than the workload's mix: connect 0.000/op (expected 2)");
    const sample = (perHook: Record<string, number>) => ({ arm: 'probed' as const, startedAt: 0, ops: 10, ns: 1, nsPerOp: 1, perf: {}, eventsPerHook: perHook });
    const rounds = [1, 2, 3].map((index) => ({ index, block: 0, cpu: 0, order: ['baseline', 'probed'] as ['baseline', 'probed'], baseline: sample({}), probed: sample({ connect: index === 2 ? 20 : 0, dns: 40 }) }));
    expect(profileCellInvalidReason({ rounds, expectedEventsPerHook: { connect: 2, dns: 4 } })).toMatch(/connect 0\.000\/op/);
    expect(profileCellInvalidReason({ rounds, expectedEventsPerHook: undefined })).toBeNull();
  });

  it('builds one bpftrace program for the whole set, keyed per hook, with a sentinel key', () => {
    const comms = ['hb-hids-mix', 'hb-hids-child'];
    expect(countingProgram([{ type: 'tracepoint', target: 'syscalls:sys_enter_connect', key: { name: 'connect' } }, { type: 'tracepoint', target: 'syscalls:sys_enter_bind', key: { name: 'bind' } }], comms)).toBe(
      'BEGIN { @hookbench["-"] = count(); printf("hookbench-ready\\n"); } tracepoint:syscalls:sys_enter_connect /comm == "hb-hids-mix" || comm == "hb-hids-child"/ { @hookbench["connect"] = count(); } tracepoint:syscalls:sys_enter_bind /comm == "hb-hids-mix" || comm == "hb-hids-child"/ { @hookbench["bind"] = count(); }',
    );
    expect(countingProgram({ type: 'rawtracepoint', target: 'sys_enter', filter: 'arg1 == 42 || arg1 == 49', key: { arg: 1 } }, null)).toContain('/arg1 == 42 || arg1 == 49/ { @hookbench[arg1] = count(); }');
    expect(() => countingProgram({ type: 'tracepoint', target: 'x', key: { name: 'a"); system("id' } }, null)).toThrow(/refusing/);
    expect(() => countingProgram({ type: 'rawtracepoint', target: 'sys_enter', filter: 'arg1 == 42 || 1' }, null)).toThrow(/refusing/);
  });
});

/** Ops per probed run: ~3 ms each here, so ~0.2 s, a few thousand hooked events. */
const HIDS_OPS = 60;

/**
 * One realisation of elkeid-default, attached for real, checked against what this kernel offers of the
 * profile (resolveHooks: the hooks it can place, and why it cannot place the others).
 */
async function checkRealisation(m: ProfileMechanism, realisation: string, ctx: ReturnType<typeof newContext>, test: TestContext): Promise<void> {
  const support = await m.detect(ctx);
  needsSupport(test, m.name, support);
  const { hooks, missing } = await resolveHooks(ELKEID_DEFAULT, realisationByName(realisation)!);
  const run = await probedRun(m, 'hids-mix', HIDS_OPS, ctx);
  const expected = m.expectedPerHook(hookTargetFor('hids-mix'));
  const perOp = Object.fromEntries(Object.entries(run.count.perHook!).map(([h, n]) => [h, +(n / run.ops).toFixed(3)]));
  console.log(`${m.name} x hids-mix (${run.ops} ops, attach ${run.attachMs.toFixed(0)} ms, detach ${run.detachMs.toFixed(0)} ms): per op ${JSON.stringify(perOp)}; ${run.count.note ?? ''}`);
  expect(perHookInvalidReason(run.count.perHook!, run.ops, expected)).toBeNull();
  // Counted per hook: exactly the hooks this kernel could place, their counts adding up to the total.
  expect(Object.keys(run.count.perHook!).sort()).toEqual(hooks.map((h) => h.name).sort());
  expect(Object.values(run.count.perHook!).reduce((a, b) => a + b, 0)).toBe(run.count.events);
  // What it could not place is said, in detect's reason and in the cell's hook point.
  if (missing.length > 0) expect(support.reason).toContain(`not hooked on this kernel: ${describeMissing(missing)}`);
  const lacking = missing.filter((h) => !h.partly).map((h) => h.hook);
  if (lacking.length > 0) expect(m.hookPoint(hookTargetFor('hids-mix'))).toMatch(new RegExp(`; not on this kernel: ${lacking.join(', ')}$`));
  else expect(m.hookPoint(hookTargetFor('hids-mix'))).not.toContain('not on this kernel');
  expect(run.count.note ?? '').not.toMatch(/overran/);
  // Counts are the workload's process tree's (every realisation). At the syscall layer they stay near
  // the mix: the workload's set-up calls outside its loop add a little, never a whole op's worth per op.
  // A kernel function can run more than once per call (an overlayfs root creates each file in the
  // overlay and again in its upper layer: security_inode_create twice), so there the mix is a floor.
  if (realisationByName(realisation)!.layer === 'syscall') {
    for (const [hook, perOpExpected] of Object.entries(expected)) expect(perOp[hook] ?? 0, hook).toBeLessThan(perOpExpected + 0.5);
  }
}

describe('elkeid-default attached for real on this kernel, counted per hook on hids-mix', () => {
  // Audit last: enabling it gives every later task an audit context until reboot.
  const order = ['tracepoint', 'raw-syscalls', 'bpf-tp', 'bpftrace-tracepoint', 'kprobe', 'bpf-kprobe', 'bpftrace-kprobe', 'bpftrace-rawtracepoint', 'audit'];

  for (const realisation of order) {
    const m = profileMechanismByName(`elkeid-default/${realisation}`)!;
    it(`${m.name}: every hook the mix reaches fires at least its share, then nothing is left`, async (test) => {
      const ctx = newContext();
      const stats = bpfStatsValue();
      try {
        await checkRealisation(m, realisation, ctx, test);
      } catch (err) {
        await undoAll(ctx.journal);
        // A skip (this kernel lacks the realisation) must still leave nothing behind.
        expectNothingLeft(ctx, stats);
        throw err;
      }
      // The auditd a run starts stays up for the run and is stopped by its final undo: this test is the run.
      expect(ctx.journal.pendingWithIds.map((e) => e.entry.kind).filter((k) => k !== 'tracefs-instance').sort()).toEqual(realisation === 'audit' ? ['private-files', 'process'] : []);
      if (realisation === 'audit') expect(await undoAll(ctx.journal)).toEqual([]);
      expectNothingLeft(ctx, stats);
    });
  }

  it('hook vocabulary: every hook name is a C identifier (it keys bpftrace maps)', () => {
    for (const h of HOOK_NAMES) expect(h).toMatch(/^[a-z][a-z0-9_]*$/);
  });
});
