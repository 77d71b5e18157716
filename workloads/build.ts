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

/** One output to compile: what goes into its cache key and onto the compiler's command line. */
export interface CompileUnit {
  /** Output file name. */
  binary: string;
  sources: readonly string[];
  flags: readonly string[];
  /** Default COMPILER. */
  compiler?: string;
  /** After the sources on the command line (libraries to link). */
  libs?: readonly string[];
}

function compileUnits(spec: WorkloadSpec): CompileUnit[] {
  return [
    { binary: spec.binary, sources: [spec.source, ...SHARED_SOURCES], flags: COMMON_FLAGS },
    ...spec.artefacts.map((a) => ({ binary: a.binary, sources: [a.source], flags: [...COMMON_FLAGS, ...a.extraFlags] })),
  ];
}

const identities = new Map<string, Promise<string>>();

function compilerIdentity(compiler: string, install: string): Promise<string> {
  let identity = identities.get(compiler);
  if (!identity) {
    identity = execa(compiler, ['--version'], { reject: false }).then((r) => {
      if (r.failed || r.exitCode !== 0) throw new Error(`compiler '${compiler}' not usable (${r.stderr.trim() || r.message}); ${install}`);
      return r.stdout;
    });
    identity.catch(() => identities.delete(compiler));
    identities.set(compiler, identity);
  }
  return identity;
}

/** Hash of everything that decides the outputs: compilers, flags, every source and header byte. */
async function cacheKey(units: readonly CompileUnit[], headers: readonly string[], install: string, sourceDir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const compiler of [...new Set(units.map((u) => u.compiler ?? COMPILER))].sort()) hash.update(await compilerIdentity(compiler, install));
  const files = [...new Set([...units.flatMap((u) => u.sources), ...headers])].sort();
  for (const u of units) hash.update(`\0${u.compiler ?? COMPILER}\0${u.binary}\0${u.sources.join(' ')}\0${u.flags.join(' ')}\0${(u.libs ?? []).join(' ')}`);
  for (const f of files) hash.update(`\0${f}\0`).update(await readFile(join(sourceDir, f)));
  return hash.digest('hex').slice(0, 16);
}

/** Compiles into a private temporary name, then renames: concurrent builders never see a half-written output. */
async function compile(unit: CompileUnit, sourceDir: string, outDir: string): Promise<void> {
  const out = join(outDir, unit.binary);
  const tmp = join(outDir, `.${unit.binary}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const compiler = unit.compiler ?? COMPILER;
  const args = [...unit.flags, '-o', tmp, ...unit.sources.map((s) => join(sourceDir, s)), ...(unit.libs ?? [])];
  const r = await execa(compiler, args, { reject: false });
  if (r.exitCode !== 0) {
    await rm(tmp, { force: true });
    throw new Error(`${compiler} ${args.join(' ')} failed:\n${r.stderr.trim() || r.message}`);
  }
  await rename(tmp, out);
}

/**
 * Every promise's value, or the first failure once all have settled: a failed build leaves no compiler
 * running behind it (they would load the machine during whatever is measured next).
 */
async function allSettledOrThrow<T>(work: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(work);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

export interface CachedBuild {
  /** `buildDir/<name>-<key>`. */
  dir: string;
  /** Output paths, in unit order. */
  paths: string[];
  compiled: boolean;
}

/**
 * Compiles `units` into `buildDir/<name>-<key>/`, reusing a build whose key (compiler versions, flags,
 * sources, `headers`) is unchanged. Safe to run from several processes at once. `install` says how to
 * get a missing compiler.
 */
export async function buildCached(
  name: string,
  units: readonly CompileUnit[],
  dirs: { sourceDir: string; buildDir: string; headers: readonly string[]; install: string },
): Promise<CachedBuild> {
  const dir = join(dirs.buildDir, `${name}-${await cacheKey(units, dirs.headers, dirs.install, dirs.sourceDir)}`);
  const paths = units.map((u) => join(dir, u.binary));
  const cached = paths.every((p) => existsSync(p));
  if (!cached) {
    await mkdir(dir, { recursive: true });
    await allSettledOrThrow(units.map((u) => compile(u, dirs.sourceDir, dir)));
  }
  return { dir, paths, compiled: !cached };
}

async function buildOne(spec: WorkloadSpec, sourceDir: string, buildDir: string): Promise<BuiltWorkload> {
  const { paths, compiled } = await buildCached(spec.name, compileUnits(spec), { sourceDir, buildDir, headers: SHARED_HEADERS, install: 'install gcc' });
  return { name: spec.name, path: paths[0]!, artefacts: paths.slice(1), compiled };
}

/**
 * Builds every registered workload into `buildDir/<name>-<key>/`, reusing a build whose key (compiler
 * version, flags, sources) is unchanged. Safe to run from several processes at once.
 */
export async function buildWorkloads(buildDir = defaultBuildDir(), sourceDir = defaultSourceDir()): Promise<BuiltWorkloads> {
  const built = await allSettledOrThrow(WORKLOADS.map((spec) => buildOne(spec, sourceDir, buildDir)));
  return Object.fromEntries(built.map((b) => [b.name, b]));
}

/** The command line that runs `name` for `iterations` ops: binary, count, then its artefacts. */
export function workloadArgv(built: BuiltWorkloads, name: string, iterations: number): string[] {
  const workload = Object.hasOwn(built, name) ? built[name] : undefined;
  if (!workload) throw new Error(`unknown workload '${name}' (known: ${Object.keys(built).join(', ')})`);
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new Error(`iterations must be a whole number >= 1, got ${iterations}`);
  return [workload.path, String(iterations), ...workload.artefacts];
}
