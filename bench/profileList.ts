import { HOOK_TARGETS } from '../probes/hookpoints.js';
import { Journal, readJournals } from '../probes/journal.js';
import { realisationByName, type Realisation } from '../probes/profileRealisations.js';
import {
  BUILTIN_PROFILES,
  HOOK_NAMES,
  HOOKS,
  ProfileError,
  profileMechanismByName,
  profileMechanismNames,
  registerProfile,
  type Profile,
  type ProfileMechanism,
} from '../probes/profiles.js';
import type { Support } from '../probes/types.js';
import { undoAllAndClose } from '../probes/undo.js';
import { UsageError } from './errors.js';
import { parseProfileOption } from './profileOptions.js';

/**
 * The profiles section of `hookbench list`: each profile's hooks, its realisations (the cells
 * `hookbench run --profile` measures) and whether this kernel supports each, by the same detect() a run
 * calls before measuring a cell.
 */

/** Each cell's support on this kernel, by cell name (`<profile>/<realisation>`); or why it was not checked. */
export type ProfileSupport = { checked: true; byCell: ReadonlyMap<string, Support> } | { checked: false; why: string };

/** The built-in profiles, then those `--profile` names (same validation and errors as `run --profile`), once each. */
export function profilesToList(profileOptions: readonly string[]): Profile[] {
  const given = profileOptions.map((text) => registered(text, parseProfileOption(text)));
  return [...new Map([...BUILTIN_PROFILES, ...given].map((p) => [p.name, p])).values()];
}

/** A file profile's cells resolve only once it is registered; a second, different profile of the same name is refused. */
function registered(text: string, profile: Profile): Profile {
  try {
    registerProfile(profile);
  } catch (err) {
    if (err instanceof ProfileError) throw new UsageError(`--profile ${text}: ${err.message}`);
    throw err;
  }
  return profile;
}

/** The profile's cells, as `hookbench run --profile` measures them. */
function cellsOf(profile: Profile): { cell: ProfileMechanism; realisation: Realisation<unknown> }[] {
  return profileMechanismNames(profile).map((name) => {
    const cell = profileMechanismByName(name);
    const realisation = cell && realisationByName(cell.realisation);
    if (!realisation) throw new Error(`profile cell ${name} is not known: was its profile registered?`);
    return { cell, realisation };
  });
}

/**
 * Tries every cell of the profiles for real, as a run does before measuring; without root nothing is
 * tried, and while another hookbench process is running neither, as attaching would disturb its measurement.
 */
export async function detectProfileSupport(profiles: readonly Profile[]): Promise<ProfileSupport> {
  if (process.getuid?.() !== 0) return { checked: false, why: 'without root: checking a realisation attaches it' };
  const others = readJournals().filter((j) => j.alive && j.pid !== process.pid);
  if (others.length > 0) return { checked: false, why: `hookbench pid ${others.map((j) => j.pid).join(', ')} is running: attaching now would disturb it` };
  return { checked: true, byCell: await detectCells(profiles.flatMap(cellsOf).map((c) => c.cell)) };
}

/** As doctor does: one journal for every attempt, and whatever an attempt left is undone before returning. */
async function detectCells(cells: readonly ProfileMechanism[]): Promise<Map<string, Support>> {
  const journal = new Journal();
  const byCell = new Map<string, Support>();
  try {
    for (const [i, cell] of cells.entries()) byCell.set(cell.name, await cell.detect({ journal, tag: `hookbench-${process.pid}-l${i}` }));
  } finally {
    await undoAllAndClose(journal);
  }
  return byCell;
}

/** `supported    reason`, `UNSUPPORTED  reason` (doctor's words), or `not checked  why`. */
function supportText(support: ProfileSupport, cell: string): string {
  if (!support.checked) return `not checked  ${support.why}`;
  const s = support.byCell.get(cell);
  if (!s) throw new Error(`no support detected for ${cell}`);
  return `${s.supported ? 'supported  ' : 'UNSUPPORTED'}  ${s.reason}`;
}

/** Events per op each workload must show in the cell (`>=` where the workload's row holds lower bounds). */
function expectedPerWorkload(cell: ProfileMechanism): string {
  return Object.values(HOOK_TARGETS)
    .map((t) => `${t.workload} ${t.lowerBound ? '>=' : ''}${cell.expectedPerOp(t)}`)
    .join(', ');
}

function formatProfile(profile: Profile, support: ProfileSupport): string[] {
  const width = Math.max(...profile.hooks.map((h) => h.length));
  const hooks = profile.hooks.map((name) => {
    const d = HOOKS[name];
    return `      ${name.padEnd(width)}  ${d.syscalls.length > 0 ? d.syscalls.join(',') : '(no syscall)'} | ${d.kernelFunction}`;
  });
  const realisations = cellsOf(profile).flatMap(({ cell, realisation }) => [
    `      ${realisation.name} (${realisation.family}, ${realisation.layer} layer, cell ${cell.name}): ${realisation.summary}`,
    `        expected events per op: ${expectedPerWorkload(cell)}`,
    `        ${supportText(support, cell.name)}`,
  ]);
  return [
    `  ${profile.name}: ${profile.description || '(no description)'}`,
    '    hooks (syscalls at the syscall layer | kernel function at the function layer):',
    ...hooks,
    '    realisations (support on this kernel: attached and detached for real, as `hookbench run` checks a cell):',
    ...realisations,
  ];
}

export function formatProfiles(profiles: readonly Profile[], support: ProfileSupport): string {
  return [
    'profiles (`hookbench run --profile NAME|FILE.json`: one cell per realisation, <profile>/<realisation>):',
    ...profiles.flatMap((p) => formatProfile(p, support)),
    `  hooks a profile file may name: ${HOOK_NAMES.join(', ')}`,
  ].join('\n');
}
