import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProfileOption } from '../bench/profileOptions.js';
import { HOOK_TARGETS } from '../probes/hookpoints.js';
import { Journal, processStartTime } from '../probes/journal.js';
import { ProfileFileSchema } from '../probes/profileSchema.js';
import { ELKEID_DEFAULT, HOOKS, profileMechanismByName, profileMechanismNames, realisationsOf, registerProfile, validateProfile, type Profile } from '../probes/profiles.js';
import type { Support } from '../probes/types.js';
import { undoAll } from '../probes/undo.js';
import { ensureCliBuilt, expectKernelAsBefore, hookbench, journalFiles, newJournalDir, snapshot, type Snapshot } from './cliHarness.js';

/**
 * `hookbench list`'s profiles section, run as a user runs it: every profile's hooks and realisations,
 * and each realisation's support as hookbench's own detection finds it on this kernel, computed here in
 * the test process through the same cells' detect().
 */

const AGENT_FILE = { name: 'list-test-agent', description: 'an agent of this test', hooks: ['execve', 'connect', 'update_cred'], realisations: ['tracepoint', 'raw-syscalls', 'kprobe'] };
const AGENT = validateProfile(ProfileFileSchema.parse(AGENT_FILE));

interface ListedRealisation {
  cell: string;
  expected: string;
  status: string;
  reason: string;
}

interface ListedProfile {
  description: string;
  hooks: Map<string, string>;
  realisations: Map<string, ListedRealisation>;
}

const HOOK_LINE = /^ {6}(\S+)\s+(.+ \| \S+)$/;
const REALISATION_LINE = /^ {6}(\S+) \(\w+, \w+ layer, cell (\S+)\): /;
const EXPECTED_LINE = /^ {8}expected events per op: (.*)$/;
const STATUS_LINE = /^ {8}(supported|UNSUPPORTED|not checked)\s+(.*)$/;

/** The block of `list`'s output under `  <name>: description`, parsed; undefined when the profile is not listed. */
function listedProfile(stdout: string, name: string): ListedProfile | undefined {
  const all = stdout.split('\n');
  const start = all.findIndex((l) => l.startsWith(`  ${name}: `));
  if (start < 0) return undefined;
  const end = all.findIndex((l, i) => i > start && /^ {0,2}\S/.test(l));
  const block = all.slice(start + 1, end < 0 ? undefined : end);
  const profile: ListedProfile = { description: all[start]!.slice(`  ${name}: `.length), hooks: new Map(), realisations: new Map() };
  const inRealisations = block.findIndex((l) => l.startsWith('    realisations'));
  for (const l of block.slice(0, inRealisations)) {
    const m = HOOK_LINE.exec(l);
    if (m) profile.hooks.set(m[1]!, m[2]!);
  }
  for (const [i, l] of block.entries()) {
    const m = REALISATION_LINE.exec(l);
    if (!m) continue;
    const expected = EXPECTED_LINE.exec(block[i + 1] ?? '');
    const status = STATUS_LINE.exec(block[i + 2] ?? '');
    expect(expected, `${name} ${m[1]}: expected events line`).not.toBeNull();
    expect(status, `${name} ${m[1]}: status line`).not.toBeNull();
    profile.realisations.set(m[1]!, { cell: m[2]!, expected: expected![1]!, status: status![1]!, reason: status![2]! });
  }
  return profile;
}

const tempDirs: string[] = [];
/** A private temp directory, removed after the file's tests; `readable`: a non-root CLI can read what is in it. */
function tempDir(prefix: string, readable = false): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (readable) chmodSync(dir, 0o755);
  tempDirs.push(dir);
  return dir;
}

/** hookbench's own detection of the profiles' cells, in this process, everything undone afterwards. */
async function detectedHere(profiles: readonly Profile[]): Promise<Map<string, Support>> {
  const journal = new Journal(tempDir('hookbench-list-journal-'), process.pid);
  const byCell = new Map<string, Support>();
  try {
    for (const [i, name] of profiles.flatMap(profileMechanismNames).entries()) {
      byCell.set(name, await profileMechanismByName(name)!.detect({ journal, tag: `hookbench-${process.pid}-t${i}` }));
    }
  } finally {
    expect(await undoAll(journal)).toEqual([]);
    journal.close();
  }
  return byCell;
}

const hookText = (hook: keyof typeof HOOKS) => `${HOOKS[hook].syscalls.join(',') || '(no syscall)'} | ${HOOKS[hook].kernelFunction}`;

/** The profile's hooks and realisations as listed; each realisation's support as `detected` has it, or not checked for `notChecked`'s reason. */
function expectProfileListed(stdout: string, profile: Profile, detected: ReadonlyMap<string, Support> | { notChecked: RegExp }): void {
  const listed = listedProfile(stdout, profile.name);
  expect(listed, `${profile.name} listed`).toBeDefined();
  expect(listed!.description).toBe(profile.description);
  expect([...listed!.hooks.keys()]).toEqual(profile.hooks);
  for (const hook of profile.hooks) expect(listed!.hooks.get(hook), hook).toBe(hookText(hook));
  expect([...listed!.realisations.keys()]).toEqual(realisationsOf(profile).map((r) => r.name));
  for (const [realisation, line] of listed!.realisations) {
    const cell = profileMechanismByName(`${profile.name}/${realisation}`)!;
    expect(line.cell).toBe(cell.name);
    for (const t of Object.values(HOOK_TARGETS)) expect(line.expected, `${cell.name} x ${t.workload}`).toContain(`${t.workload} ${t.lowerBound ? '>=' : ''}${cell.expectedPerOp(t)}`);
    if ('notChecked' in detected) {
      expect(line.status, cell.name).toBe('not checked');
      expect(line.reason).toMatch(detected.notChecked);
      continue;
    }
    const support = detected.get(cell.name)!;
    expect(line.status, cell.name).toBe(support.supported ? 'supported' : 'UNSUPPORTED');
    // The detection's own words: the kernel's or the tool's reason for an unsupported realisation.
    expect(line.reason, cell.name).toContain(support.reason);
  }
}

let journalDir: string;
let before: Snapshot;
let agentFile: string;
let detected: Map<string, Support>;

beforeAll(async () => {
  await ensureCliBuilt();
  journalDir = newJournalDir();
  agentFile = join(tempDir('hookbench-list-', true), 'agent.json');
  writeFileSync(agentFile, JSON.stringify(AGENT_FILE));
  before = await snapshot();
  registerProfile(AGENT);
  detected = await detectedHere([ELKEID_DEFAULT, AGENT]);
});

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('hookbench list: profiles', () => {
  it('lists elkeid-default with its hooks, its realisations and their support on this kernel', async () => {
    const r = await hookbench(['list'], { journalDir });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stderr).toBe('');
    expectProfileListed(String(r.stdout), ELKEID_DEFAULT, detected);
    expect(listedProfile(String(r.stdout), AGENT.name)).toBeUndefined();
  });

  it('lists a profile file given with --profile, beside the built-in ones, each once', async () => {
    const r = await hookbench(['list', '--profile', agentFile, '--profile', ELKEID_DEFAULT.name], { journalDir });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stderr).toBe('');
    expectProfileListed(String(r.stdout), AGENT, detected);
    expectProfileListed(String(r.stdout), ELKEID_DEFAULT, detected);
    expect(String(r.stdout).split('\n').filter((l) => l.startsWith(`  ${ELKEID_DEFAULT.name}: `))).toHaveLength(1);
  });

  it('as a user other than root: the same structure, support not checked, nothing tried', async () => {
    const r = await hookbench(['list', '--profile', agentFile], { journalDir, uid: 65534 });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stderr).toBe('');
    expectProfileListed(String(r.stdout), ELKEID_DEFAULT, { notChecked: /without root/ });
    expectProfileListed(String(r.stdout), AGENT, { notChecked: /without root/ });
  });

  it('while another hookbench process is running: support not checked, so as not to disturb its measurement', async () => {
    // This test process stands in for the running hookbench: a live pid with its journal.
    const busyJournalDir = newJournalDir();
    writeFileSync(join(busyJournalDir, `${process.pid}.json`), JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid), entries: [] }));
    const r = await hookbench(['list'], { journalDir: busyJournalDir });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expectProfileListed(String(r.stdout), ELKEID_DEFAULT, { notChecked: new RegExp(`hookbench pid ${process.pid} is running`) });
    rmSync(busyJournalDir, { recursive: true });
  });

  const badFiles: [string, string][] = [
    ['an unknown hook', JSON.stringify({ name: 'bad-agent', hooks: ['execve', 'no_such_hook'] })],
    ['not JSON', '{"name": "bad-agent",'],
    ['a field the schema does not allow', JSON.stringify({ name: 'bad-agent', hooks: ['execve'], extra: 1 })],
  ];
  it.each(badFiles)('a profile file with %s: exit 2, the run command\'s one-line error, nothing attached', async (_what, text) => {
    const file = join(tempDir('hookbench-list-bad-'), 'bad.json');
    writeFileSync(file, text);
    const refusal = (() => {
      try {
        parseProfileOption(file);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`${file} was accepted`);
    })();
    const r = await hookbench(['list', '--profile', file], { journalDir });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`hookbench: ${refusal}`);
    expect(journalFiles(journalDir)).toEqual([]);
  });

  it('leaves nothing in the kernel and no journal', async () => {
    expect(journalFiles(journalDir)).toEqual([]);
    await expectKernelAsBefore(before, 'after hookbench list');
  });
});
