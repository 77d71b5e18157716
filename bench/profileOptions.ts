import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ProfileFileSchema } from '../probes/profileSchema.js';
import { BUILTIN_PROFILES, ProfileError, profileByName, profileMechanismNames, registerProfile, validateProfile, type Profile } from '../probes/profiles.js';
import { UsageError } from './errors.js';
import type { RunOptions } from './results.js';

/**
 * `hookbench run --profile NAME|FILE.json`: a built-in profile by name, or a profile file (format:
 * ProfileFileSchema in probes/profileSchema.ts). The profile's cells, one per realisation, are added to the
 * run's mechanisms as `<profile>/<realisation>`; the profile itself goes into the run options, so a
 * resumed run knows a file profile without the file.
 */

/** A built-in name, or a path ending in .json: nothing else is read or passed on. */
const PROFILE_NAME = /^[a-z][a-z0-9-]{0,39}$/;

function readProfileFile(path: string): Profile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--profile ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--profile ${path}: not JSON (${(err as Error).message})`);
  }
  const parsed = ProfileFileSchema.safeParse(json);
  if (!parsed.success) throw new UsageError(`--profile ${path}: ${z.prettifyError(parsed.error).replace(/\s*\n\s*/g, ' ')}`);
  try {
    return validateProfile(parsed.data);
  } catch (err) {
    if (err instanceof ProfileError) throw new UsageError(`--profile ${path}: ${err.message}`);
    throw err;
  }
}

/** The profile `--profile` names: a built-in one, or the validated contents of a .json file. */
export function parseProfileOption(text: string): Profile {
  if (text.endsWith('.json')) return readProfileFile(text);
  const builtin = PROFILE_NAME.test(text) ? BUILTIN_PROFILES.find((p) => p.name === text) : undefined;
  if (!builtin) throw new UsageError(`unknown profile '${text}' (built in: ${BUILTIN_PROFILES.map((p) => p.name).join(', ')}; or a profile file ending in .json)`);
  return builtin;
}

/**
 * Run options with the profile's cells: its mechanisms added to `options.mechanisms` when the user also
 * named mechanisms, instead of the default ones otherwise; the profile recorded in `options.profiles`.
 * Registers the profile, so the planner and runner find its cells.
 */
export function applyProfileOption(options: RunOptions, profileText: string | undefined, mechanismsGiven: boolean): RunOptions {
  if (profileText === undefined) return options;
  const profile = parseProfileOption(profileText);
  try {
    registerProfile(profile);
  } catch (err) {
    if (err instanceof ProfileError) throw new UsageError(`--profile ${profileText}: ${err.message}`);
    throw err;
  }
  const cells = profileMechanismNames(profile);
  const mechanisms = mechanismsGiven ? [...new Set([...options.mechanisms, ...cells])] : cells;
  return { ...options, mechanisms, profiles: [...(options.profiles ?? []).filter((p) => p.name !== profile.name), profile] };
}

/** A resumed run's file profiles, registered again from its options (the file may be gone). */
export function registerRunProfiles(options: RunOptions): void {
  for (const stored of options.profiles ?? []) {
    if (profileByName(stored.name) && BUILTIN_PROFILES.some((p) => p.name === stored.name)) continue;
    registerProfile(validateProfile(ProfileFileSchema.parse(stored)));
  }
}
