import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Result } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResultsSchema, type Results, type Verdict } from '../bench/results.js';
import { LOG_FILE, LogLineSchema, RESULTS_FILE, type LogLine } from '../bench/store.js';
import { HOOK_TARGETS } from '../probes/hookpoints.js';
import { MECHANISMS } from '../probes/registry.js';
import { TRACEFS } from '../probes/tracefs.js';
import { WORKLOAD_NAMES } from '../workloads/registry.js';
import {
  ensureCliBuilt,
  expectKernelAsBefore,
  hookbench,
  installUserState,
  journalFiles,
  lines,
  newJournalDir,
  pathWithout,
  journalEntries,
  removeUserState,
  sleep,
  snapshot,
  startHookbench,
  type Snapshot,
} from './cliHarness.js';

/**
 * The CLI as a user meets it: the compiled `hookbench` in a child process, as root on this kernel.
 * Bad input gets one line and exit 2 before anything is attached; `list`, `doctor` and `run` print
 * what they promise; a SIGKILLed run is refused until `cleanup`, and `--resume` finishes it.
 */

let journalDir: string;
let scratch: string;
let before: Snapshot;
/** How each state check compared: strictly, or (another engineer's run active) only what is this file's. */
const comparisons: string[] = [];
const cli = (args: string[], extra: { path?: string; uid?: number } = {}) => hookbench(args, { journalDir, ...extra });
const freshDir = (name: string) => join(mkdtempSync(join(scratch, `${name}-`)), 'results');

beforeAll(async () => {
  await ensureCliBuilt();
  journalDir = newJournalDir();
  scratch = mkdtempSync(join(tmpdir(), 'hookbench-cli-'));
  await installUserState();
  before = await snapshot();
}, 180_000);

afterAll(async () => {
  await removeUserState();
  rmSync(scratch, { recursive: true, force: true });
  // Every run of the suite ended or was cleaned up: no run journal may be left (other files are
  // markers). A failed test's are undone first, so that a failing suite leaks nothing.
  const left = journalFiles(journalDir);
  if (left.length > 0) await hookbench(['cleanup'], { journalDir });
  rmSync(journalDir, { recursive: true, force: true });
  const attributable = comparisons.filter((c) => c === 'attributable').length;
  if (attributable > 0) console.warn(`cli: ${attributable} of ${comparisons.length} kernel-state checks compared only this file's objects (other hookbench runs were active)`);
  expect(left).toEqual([]);
});

/** Exit 2, exactly one line on stderr naming the problem, no stack trace, nothing on stdout. */
function expectUsageError(r: Result, message: RegExp): void {
  const stderr = String(r.stderr);
  expect(r.exitCode, stderr).toBe(2);
  expect(stderr).not.toContain('\n');
  expect(stderr).toMatch(/^hookbench: /);
  expect(stderr).toMatch(message);
  expect(stderr).not.toMatch(/^\s*at /m);
  expect(String(r.stdout)).toBe('');
}

/** Nothing attached, journaled or written: the kernel as before, no journal, no results directory. */
async function expectNothingDone(outDir?: string): Promise<void> {
  comparisons.push(await expectKernelAsBefore(before, expect.getState().currentTestName ?? ''));
  expect(journalFiles(journalDir)).toEqual([]);
  if (outDir) expect(existsSync(outDir)).toBe(false);
}

describe('bad input: one line on stderr, exit 2, nothing attached', () => {
  // Every shell metacharacter case would create this file if the input reached a shell.
  const canary = join(tmpdir(), `hookbench-canary-${process.pid}`);
  const touch = `touch ${canary}`;
  afterAll(() => expect(existsSync(canary), `${canary} exists: input reached a shell`).toBe(false));

  const runCases: [string, string[], RegExp][] = [
    ['an unknown mechanism', ['--mechanisms', 'tracepoint,kprobez'], /unknown mechanism 'kprobez' \(known: tracepoint/],
    ['an unknown workload', ['--workloads', 'mprotect,forkbomb'], /unknown workload 'forkbomb' \(known: mprotect/],
    ['no mechanism at all', ['--mechanisms', ','], /no mechanisms given/],
    ['--budget 5x', ['--budget', '5x'], /--budget must be a number .*got '5x'/],
    ['--max-rounds -1', ['--max-rounds', '-1'], /--max-rounds must be a whole number .*got '-1'/],
    ["--precision ''", ['--precision', ''], /--precision must be a number .*got ''/],
    ['--run-ms 1e3', ['--run-ms', '1e3'], /--run-ms must be a number .*got '1e3'/],
    ['--max-time 0x10', ['--max-time', '0x10'], /--max-time must be a number .*got '0x10'/],
    ['--seed 1.5', ['--seed', '1.5'], /--seed must be a whole number .*got '1.5'/],
    ['--budget Infinity', ['--budget', 'Infinity'], /--budget must be a number .*got 'Infinity'/],
    ['--min-rounds above --max-rounds', ['--min-rounds', '30', '--max-rounds', '20'], /--min-rounds \(30\) exceeds --max-rounds \(20\)/],
    ['--min-rounds below what the sequential method needs', ['--min-rounds', '5'], /--min-rounds must be a whole number from 15 /],
    ['--cpu that is not a CPU list', ['--cpu', '0;reboot'], /--cpu "0;reboot" is not a CPU list/],
    ['--cpu that is not online', ['--cpu', '4095'], /--cpu "4095": CPU 4095 is not online/],
    ['a ; in a mechanism', ['--mechanisms', `tracepoint;${touch}`], /unknown mechanism 'tracepoint;touch /],
    ['$( ) in a mechanism', ['--mechanisms', `tracepoint$(${touch})`], /unknown mechanism 'tracepoint\$\(touch /],
    ['backquotes in a workload', ['--workloads', `\`${touch}\``], /unknown workload '`touch /],
    ['single quotes in a mechanism', ['--mechanisms', `tracepoint'; ${touch}; '`], /unknown mechanism 'tracepoint'; touch /],
    ['double quotes in a mechanism', ['--mechanisms', 'trace"point'], /unknown mechanism 'trace"point'/],
    ['a newline in a mechanism', ['--mechanisms', 'tracepoint\naudit'], /unknown mechanism 'tracepoint\\x0aaudit'/],
    ['a terminal escape in a mechanism', ['--mechanisms', '\x1b[2Jtracepoint'], /unknown mechanism '\\x1b\[2Jtracepoint'/],
    ['../ in a workload', ['--workloads', '../../../bin/true'], /unknown workload '\.\.\/\.\.\/\.\.\/bin\/true'/],
    ['a path to a workload', ['--workloads', 'mprotect/../null'], /unknown workload 'mprotect\/\.\.\/null'/],
    ['a ; in a number', ['--budget', `5;${touch}`], /--budget must be a number .*got '5;touch /],
    ['$( ) in a number', ['--run-ms', `$(${touch})`], /--run-ms must be a number .*got '\$\(touch /],
    ['a newline in a number', ['--seed', '1\n2'], /--seed must be a whole number .*got '1\\x0a2'/],
  ];
  it.each(runCases)('run with %s', async (_, args, message) => {
    const outDir = freshDir('bad');
    expectUsageError(await cli(['run', ...args, '--out', outDir]), message);
    await expectNothingDone(outDir);
  });

  const otherCases: [string, () => string[], RegExp][] = [
    ["--out ''", () => ['run', '--out', ''], /--out needs a directory/],
    ['--resume of a directory without a run', () => ['run', '--resume', mkdtempSync(join(scratch, 'empty-'))], /is not a hookbench results directory \(no run\.json\)/],
    ['--resume of a missing directory', () => ['run', '--resume', join(scratch, 'missing')], /is not a hookbench results directory/],
    ['--resume of a directory whose run.json is not a run header', () => ['run', '--resume', dirWith('run.json', '{"schemaVersion":1}')], /is not a hookbench run header/],
    ['--resume of a directory whose run.json is not JSON', () => ['run', '--resume', dirWith('run.json', 'not json\n')], /run\.json is not a hookbench run header/],
    ['--resume and --out together', () => ['run', '--resume', scratch, '--out', join(scratch, 'x')], /--resume and --out are exclusive/],
    ['an unknown command', () => ['bogus'], /unknown command 'bogus'/],
    ['a misspelt command', () => ['rnu'], /unknown command 'rnu' \(Did you mean run\?\)/],
    ['an unknown option', () => ['run', '--bogus'], /unknown option '--bogus'/],
    ['a misspelt option', () => ['run', '--budgit', '5'], /unknown option '--budgit' \(Did you mean --budget\?\)/],
    ['a newline in an option name', () => ['run', '--mech\nx'], /unknown option '--mech x'/],
    ['an option without its value', () => ['run', '--budget'], /option '--budget <pct>' argument missing/],
    ['an extra argument', () => ['run', 'tracepoint'], /too many arguments/],
    ['doctor --run-ms 5x', () => ['doctor', '--no-noise', '--run-ms', '5x'], /--run-ms must be a number .*got '5x'/],
  ];
  it.each(otherCases)('%s', async (_, args, message) => {
    expectUsageError(await cli(args()), message);
    await expectNothingDone();
  });

  function dirWith(file: string, text: string): string {
    const dir = mkdtempSync(join(scratch, 'dir-'));
    writeFileSync(join(dir, file), text);
    return dir;
  }

  it.each([['run', '--mechanisms', 'tracepoint'], ['doctor', '--no-noise'], ['cleanup']])('%s as a user other than root (uid 65534)', async (...args) => {
    const outDir = args[0] === 'run' ? freshDir('nonroot') : undefined;
    expectUsageError(await cli(outDir ? [...args, '--out', outDir] : args, { uid: 65534 }), /must run as root/);
    await expectNothingDone(outDir);
  });

  it.each([
    ['perf', /^perf(_.*)?$/, 'tracepoint'],
    ['auditctl', /^auditctl$/, 'tracepoint,audit'],
    ['bpftrace', /^bpftrace$/, 'bpftrace-tracepoint'],
    ['clang', /^clang(-\d+)?$/, 'bpf-tp'],
  ])('run on a machine without %s', async (tool, missing, mechanisms) => {
    const outDir = freshDir('notool');
    const r = await cli(['run', '--mechanisms', mechanisms, '--workloads', 'mprotect', '--out', outDir], { path: pathWithout(missing) });
    expectUsageError(r, new RegExp(`'${tool}' is not installed`));
    await expectNothingDone(outDir);
  });
});

describe('hookbench list', () => {
  it('prints every mechanism, every workload and the hook point of every cell', async () => {
    const r = await cli(['list']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    const out = lines(String(r.stdout));
    for (const m of MECHANISMS) expect(out.some((l) => l.startsWith(`  ${m.name} `) && l.includes(m.summary)), m.name).toBe(true);
    for (const w of WORKLOAD_NAMES) expect(out.some((l) => new RegExp(`^  ${w}\\s+\\S`).test(l)), w).toBe(true);
    for (const m of MECHANISMS) {
      for (const t of Object.values(HOOK_TARGETS)) {
        const row = new RegExp(`^  ${m.name}\\s+${t.workload}\\s+${m.expectedPerOp(t)}/op\\s+${escapeRegExp(m.hookPoint(t))}$`);
        expect(out.filter((l) => row.test(l)), `${m.name} x ${t.workload}`).toHaveLength(1);
      }
    }
  });
});

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What this kernel says about itself, read independently of hookbench. */
function kernelConfig(): string {
  try {
    return gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    return '';
  }
}

function functionTracerRefusal(): string | null {
  try {
    readFileSync(join(TRACEFS, 'available_filter_functions'), { encoding: 'utf8', flag: 'r' });
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

describe('hookbench doctor --no-noise', () => {
  let doctorLines: Map<string, { supported: boolean; reason: string }>;
  let r: Result;
  beforeAll(async () => {
    r = await cli(['doctor', '--no-noise']);
    doctorLines = new Map(
      lines(String(r.stdout)).flatMap((l) => {
        const m = /^ {2}(\S+)\s+(supported|UNSUPPORTED)\s+(.*)$/.exec(l);
        return m ? [[m[1]!, { supported: m[2] === 'supported', reason: m[3]! }] as const] : [];
      }),
    );
  }, 180_000);

  it('exits 0 with a line for every registered mechanism, and leaves the kernel as it was', async () => {
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect([...doctorLines.keys()]).toEqual(MECHANISMS.map((m) => m.name));
    await expectNothingDone();
  });

  it('finds tracepoint and audit supported', () => {
    expect(doctorLines.get('tracepoint')?.supported).toBe(true);
    expect(doctorLines.get('audit')?.supported).toBe(true);
  });

  it('names kprobe and kretprobe UNSUPPORTED with the reason the kernel gives, where CONFIG_KPROBES is not set', (ctx) => {
    const config = kernelConfig();
    if (!config.includes('# CONFIG_KPROBES is not set')) ctx.skip(`this kernel's config does not say CONFIG_KPROBES is not set`);
    for (const name of ['kprobe', 'kretprobe']) {
      expect(doctorLines.get(name)).toMatchObject({ supported: false, reason: expect.stringMatching(/CONFIG_KPROBES is not set/) });
    }
  });

  it('names ftrace UNSUPPORTED with the errno the kernel gives, where the function tracer is refused', (ctx) => {
    const refusal = functionTracerRefusal();
    if (refusal === null) ctx.skip('available_filter_functions is readable here: the function tracer is not refused');
    expect(doctorLines.get('ftrace')).toMatchObject({ supported: false, reason: expect.stringContaining(refusal!) });
  });
});

/** The exit code the README gives for these verdicts, written out independently of the CLI. */
function expectedExitCode(verdicts: Verdict[]): number {
  if (verdicts.includes('FAIL')) return 1;
  return verdicts.every((v) => v === 'PASS') ? 0 : 3;
}

/** The terminal table's rows by cell, each as column header -> text (columns are 2+ spaces apart). */
function tableRows(stdout: string): Map<string, Record<string, string>> {
  const all = stdout.split('\n');
  const at = all.findIndex((l) => /^cell\s{2,}/.test(l));
  expect(at, stdout).toBeGreaterThanOrEqual(0);
  const headers = all[at]!.trim().split(/\s{2,}/);
  const rows = new Map<string, Record<string, string>>();
  for (const line of all.slice(at + 2)) {
    if (!line.trim()) break;
    const cols = line.trim().split(/\s{2,}/);
    rows.set(cols[0]!, Object.fromEntries(headers.map((h, i) => [h, i < headers.length - 1 ? cols[i] ?? '' : cols.slice(i).join('  ')])));
  }
  return rows;
}

/** Whether a figure the table printed (rounded, maybe with thousands separators) is `value`. */
function printedAs(text: string, value: number): boolean {
  const printed = Number(text.replace(/,/g, ''));
  const decimals = text.split('.')[1]?.length ?? 0;
  return Math.abs(printed - value) <= 0.5 * 10 ** -decimals + 0.005 * Math.abs(value);
}

/** Short runs: verdicts here are about the CLI's reporting, not about the figures. */
const SHORT = ['--workloads', 'mprotect', '--run-ms', '20', '--min-rounds', '15', '--max-rounds', '15', '--max-time', '5'];

describe('hookbench run', () => {
  it('prints each cell with its overhead and CI, events per op and verdict, and exits as the verdicts say', async () => {
    const outDir = freshDir('run');
    const r = await cli(['run', '--mechanisms', 'tracepoint,audit', ...SHORT, '--out', outDir]);
    expect(r.stderr).not.toMatch(/^\s*at /m);
    const doc = ResultsSchema.parse(JSON.parse(readFileSync(join(outDir, RESULTS_FILE), 'utf8')));
    expect(doc.cells.map((c) => c.mechanism).sort()).toEqual(['audit', 'tracepoint']);
    const table = tableRows(String(r.stdout));
    for (const c of doc.cells) {
      const why = `${c.mechanism}: ${c.verdict} ${c.reason}`;
      expect(['PASS', 'FAIL', 'INCONCLUSIVE'], why).toContain(c.verdict);
      const row = table.get(`${c.mechanism} × mprotect`);
      expect(row, String(r.stdout)).toBeDefined();
      const overhead = /^([+-]?[\d.,]+) % \[([+-]?[\d.,]+), ([+-]?[\d.,]+)\]$/.exec(row!['overhead [95 % CI]']!);
      expect(overhead, row!['overhead [95 % CI]']).not.toBeNull();
      const m = c.stats!.overheadMedian;
      [m.value, m.ciLow, m.ciHigh].forEach((v, k) => expect(printedAs(overhead![k + 1]!, v), `${row!['overhead [95 % CI]']} vs ${v}`).toBe(true));
      expect(printedAs(row!['events/op']!, c.stats!.eventsPerOp.median)).toBe(true);
      expect(row!['rounds']).toBe(String(c.rounds.length));
      expect(row!['verdict']).toBe(c.verdict);
    }
    expect(r.exitCode).toBe(expectedExitCode(doc.cells.map((c) => c.verdict)));
    await expectNothingDone();
  });

  const runJson = async (args: string[]): Promise<{ r: Result; doc: Results; why: string }> => {
    // The test's own options last: they override SHORT's.
    const r = await cli(['run', ...SHORT, ...args, '--out', freshDir('json'), '--json']);
    const stdout = lines(String(r.stdout));
    expect(stdout, `stdout holds the document only; stderr: ${r.stderr}`).toHaveLength(1);
    const doc = ResultsSchema.parse(JSON.parse(stdout[0]!));
    return { r, doc, why: `${r.stderr}\n${JSON.stringify(doc.cells.map((c) => [c.mechanism, c.verdict, c.reason, c.rounds.length]))}` };
  };

  it('--json prints a valid results document; a cell within a generous budget PASSes: exit 0', async () => {
    const { r, doc, why } = await runJson(['--mechanisms', 'tracepoint', '--budget', '100000']);
    expect(doc.cells.map((c) => c.verdict), why).toEqual(['PASS']);
    expect(doc.cells[0]!.rounds.length).toBeGreaterThanOrEqual(3);
    expect(r.exitCode, why).toBe(0);
    await expectNothingDone();
  });

  it('audit on mprotect against a 0 % budget FAILs: exit 1', async () => {
    // All 15 rounds, whatever audit costs here: when auditd's CPU is busy a probed run can take 25 times
    // as long, and SHORT's 5 s would stop the cell short of the method's minimum.
    const { r, doc, why } = await runJson(['--mechanisms', 'audit', '--budget', '0', '--max-time', '120']);
    expect(doc.cells.map((c) => c.verdict), why).toEqual(['FAIL']);
    expect(r.exitCode, why).toBe(1);
    await expectNothingDone();
  });

  it('a mechanism this kernel lacks gives an UNSUPPORTED cell with the reason: exit 3', async (ctx) => {
    if (existsSync(join(TRACEFS, 'kprobe_events'))) ctx.skip('this kernel has kprobes');
    const { r, doc, why } = await runJson(['--mechanisms', 'kprobe']);
    expect(doc.cells, why).toMatchObject([{ verdict: 'UNSUPPORTED', reason: expect.stringMatching(/CONFIG_KPROBES/) }]);
    expect(r.exitCode, why).toBe(3);
    await expectNothingDone();
  });
});

describe('a SIGKILLed run: refused until cleanup, then resumed', () => {
  const ROUNDS = 15;
  // Cells that never decide early (a 0.01-pp precision): each runs exactly ROUNDS rounds.
  const args = ['--mechanisms', 'tracepoint,audit', '--workloads', 'mprotect', '--run-ms', '20', '--min-rounds', `${ROUNDS}`, '--max-rounds', `${ROUNDS}`, '--precision', '0.01', '--max-time', '600'];
  let outDir: string;
  let logAtKill: LogLine[];
  const readLog = () => readFileSync(join(outDir, LOG_FILE), 'utf8').split('\n').filter(Boolean).map((l) => LogLineSchema.parse(JSON.parse(l)));
  const roundsOf = (log: LogLine[], mechanism: string) => log.flatMap((l) => (l.type === 'round' && l.cell.mechanism === mechanism ? [l.round] : []));

  beforeAll(async () => {
    outDir = freshDir('resume');
    const run = startHookbench(['run', ...args, '--out', outDir], { journalDir });
    // Killed mid-cell, with a probe attached: three rounds of the first cell logged and a journal entry pending.
    for (const start = Date.now(); ; await sleep(5)) {
      if (run.exited() || Date.now() - start > 120_000) throw new Error(`the run ended before it could be killed: ${(await run.done).stderr}`);
      const logged = existsSync(join(outDir, LOG_FILE)) ? roundsOf(readLog(), 'tracepoint').length : 0;
      if (logged >= 3 && (journalEntries(journalDir, run.pid)?.length ?? 0) > 0) break;
    }
    process.kill(run.pid, 'SIGKILL');
    expect((await run.done).signal).toBe('SIGKILL');
    logAtKill = readLog();
  }, 180_000);

  it('left a journal naming what it had attached', () => {
    expect(journalFiles(journalDir)).toHaveLength(1);
  });

  it('makes the next run refuse to start, saying to run cleanup', async () => {
    const other = freshDir('refused');
    expectUsageError(await cli(['run', '--mechanisms', 'tracepoint', '--workloads', 'mprotect', '--out', other]), /hookbench cleanup/);
    expect(existsSync(other)).toBe(false);
    expectUsageError(await cli(['run', '--resume', outDir]), /hookbench cleanup/);
  });

  it('is undone by `hookbench cleanup`: the kernel as before the run, no journal left', async () => {
    const r = await cli(['cleanup']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(lines(String(r.stdout)).filter((l) => l.startsWith('removed ')).length).toBeGreaterThan(0);
    await expectNothingDone();
    const again = await cli(['cleanup']);
    expect(again.stdout).toBe('nothing to clean up');
  });

  it('--resume finishes the run and keeps the rounds measured before the kill', async () => {
    const r = await cli(['run', '--resume', outDir]);
    expect([0, 1, 3], `exit ${r.exitCode}: ${r.stderr}`).toContain(r.exitCode);
    const doc = ResultsSchema.parse(JSON.parse(readFileSync(join(outDir, RESULTS_FILE), 'utf8')));
    const calibrated = logAtKill.find((l) => l.type === 'calibration');
    for (const c of doc.cells) {
      expect(c.rounds.map((round) => round.index), c.mechanism).toEqual([...Array(ROUNDS).keys()]);
      expect(c.iterations).toBe(calibrated?.type === 'calibration' ? calibrated.iterations : NaN);
      for (const round of c.rounds) expect(round.baseline.ops).toBe(c.iterations);
    }
    const tracepoint = doc.cells.find((c) => c.mechanism === 'tracepoint')!;
    const before = roundsOf(logAtKill, 'tracepoint');
    expect(before.length).toBeGreaterThanOrEqual(3);
    expect(tracepoint.rounds.slice(0, before.length)).toEqual(before);
    // The log was continued, not rewritten: its lines at the kill are still its first lines, one calibration.
    const log = readLog();
    expect(log.slice(0, logAtKill.length)).toEqual(logAtKill);
    expect(log.filter((l) => l.type === 'calibration')).toHaveLength(1);
    await expectNothingDone();
  }, 180_000);
});
