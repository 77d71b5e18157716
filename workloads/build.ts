import { repoRoot } from '../bench/repo.js';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { WORKLOADS, type WorkloadSpec } from './registry.js';

export const COMPILER = 'cc';
export const COMMON_FLAGS: readonly string[] = ['-O2', '-Wall', '-Werror'];
/** Linked into every workload binary (not into artefacts). */
const SHARED_SOURCES = ['common.c'];
/** Part of the cache key because every workload includes it. */
const SHARED_HEADERS = ['common.h'];

export function defaultSourceDir(): string {
  return join(repoRoot(), 'workloads');
}

export function defaultBuildDir(): string {
  return join(repoRoot(), 'build', 'workloads');
}

export interface BuiltWorkload {
  name: string;
  /** The workload binary. */
  path: string;
  /** Paths of its artefacts, in registry order; they follow the iteration count on its command line. */
  artefacts: readonly string[];
  /** True if this call compiled it, false if a cached build with the same key was reused. */
  compiled: boolean;
}

export type BuiltWorkloads = Readonly<Record<string, BuiltWorkload>>;

/** One binary to compile: what goes into its cache key and onto cc's command line. */
interface CompileUnit {
  binary: string;
  sources: readonly string[];
  flags: readonly string[];
}

function compileUnits(spec: WorkloadSpec): CompileUnit[] {
  return [
    { binary: spec.binary, sources: [spec.source, ...SHARED_SOURCES], flags: COMMON_FLAGS },
    ...spec.artefacts.map((a) => ({ binary: a.binary, sources: [a.source], flags: [...COMMON_FLAGS, ...a.extraFlags] })),
  ];
}

async function compilerIdentity(): Promise<string> {
  const r = await execa(COMPILER, ['--version'], { reject: false });
  if (r.failed || r.exitCode !== 0) {
    throw new Error(`C compiler '${COMPILER}' not usable (${r.stderr.trim() || r.message}); install gcc`);
  }
  return r.stdout;
}

/** Hash of everything that decides the binaries: compiler, flags, every source and header byte. */
async function cacheKey(units: readonly CompileUnit[], compiler: string, sourceDir: string): Promise<string> {
  const hash = createHash('sha256').update(compiler);
  const files = [...new Set([...units.flatMap((u) => u.sources), ...SHARED_HEADERS])].sort();
  for (const u of units) hash.update(`\0${u.binary}\0${u.sources.join(' ')}\0${u.flags.join(' ')}`);
  for (const f of files) hash.update(`\0${f}\0`).update(await readFile(join(sourceDir, f)));
  return hash.digest('hex').slice(0, 16);
}

/** Compiles into a private temporary name, then renames: concurrent builders never see a half-written binary. */
async function compile(unit: CompileUnit, sourceDir: string, outDir: string): Promise<void> {
  const out = join(outDir, unit.binary);
  const tmp = join(outDir, `.${unit.binary}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const args = [...unit.flags, '-o', tmp, ...unit.sources.map((s) => join(sourceDir, s))];
  const r = await execa(COMPILER, args, { reject: false });
  if (r.exitCode !== 0) {
    await rm(tmp, { force: true });
    throw new Error(`${COMPILER} ${args.join(' ')} failed:\n${r.stderr.trim() || r.message}`);
  }
  await rename(tmp, out);
}

async function buildOne(spec: WorkloadSpec, compiler: string, sourceDir: string, buildDir: string): Promise<BuiltWorkload> {
  const units = compileUnits(spec);
  const outDir = join(buildDir, `${spec.name}-${await cacheKey(units, compiler, sourceDir)}`);
  const paths = units.map((u) => join(outDir, u.binary));
  const cached = paths.every((p) => existsSync(p));
  if (!cached) {
    await mkdir(outDir, { recursive: true });
    await Promise.all(units.map((u) => compile(u, sourceDir, outDir)));
  }
  return { name: spec.name, path: paths[0], artefacts: paths.slice(1), compiled: !cached };
}

/**
 * Builds every registered workload into `buildDir/<name>-<key>/`, reusing a build whose key (compiler
 * version, flags, sources) is unchanged. Safe to run from several processes at once.
 */
export async function buildWorkloads(buildDir = defaultBuildDir(), sourceDir = defaultSourceDir()): Promise<BuiltWorkloads> {
  const compiler = await compilerIdentity();
  const built = await Promise.all(WORKLOADS.map((spec) => buildOne(spec, compiler, sourceDir, buildDir)));
  return Object.fromEntries(built.map((b) => [b.name, b]));
}

/** The command line that runs `name` for `iterations` ops: binary, count, then its artefacts. */
export function workloadArgv(built: BuiltWorkloads, name: string, iterations: number): string[] {
  const workload = Object.hasOwn(built, name) ? built[name] : undefined;
  if (!workload) throw new Error(`unknown workload '${name}' (known: ${Object.keys(built).join(', ')})`);
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new Error(`iterations must be a whole number >= 1, got ${iterations}`);
  return [workload.path, String(iterations), ...workload.artefacts];
}
