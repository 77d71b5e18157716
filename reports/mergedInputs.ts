import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../bench/errors.js';
import type { LoadedResults } from './load.js';
import { MERGED_INPUTS_DIR, mergedInputPaths } from './load.js';
import { repeatedInputs, runViews, type RunView } from './runs.js';

/**
 * A report over several inputs keeps a copy of each input's results.json (every raw sample) beside
 * it, in inputs/<input label>/results.json, so the report directory holds all it was made from:
 * it can be published alone, reported again, and compared (`hookbench compare` reads its inputs/).
 */

/** A label as a directory name: "6.1.0-57-amd64 (tcg guest)" -> "6.1.0-57-amd64_tcg_guest". */
function directoryName(label: string): string {
  return label.replace(/[^A-Za-z0-9._+-]+/g, '_').replace(/^_+|_+$/g, '') || 'input';
}

/** Each distinct input's copy, by position (from 1); labels that make the same name get their position appended. */
function destinations(runs: readonly RunView[], outDir: string): Map<number, string> {
  const taken = new Set<string>();
  const byIndex = new Map<number, string>();
  for (const run of runs) {
    const plain = directoryName(run.label);
    const name = taken.has(plain) ? `${plain}-${run.index}` : plain;
    taken.add(name);
    byIndex.set(run.index, join(outDir, MERGED_INPUTS_DIR, name, 'results.json'));
  }
  return byIndex;
}

/** A report directory that already keeps other inputs would mix two merges in its inputs/: refused. */
async function refuseOtherInputs(outDir: string, kept: readonly string[]): Promise<void> {
  const wanted = new Set(kept.map((path) => resolve(path)));
  const others = (await mergedInputPaths(outDir)).filter((path) => !wanted.has(resolve(path)));
  if (others.length > 0) {
    throw new UsageError(`${outDir} already keeps the inputs of another report (${others.join(', ')}): choose another --out, or remove ${join(outDir, MERGED_INPUTS_DIR)}`);
  }
}

/**
 * Copies each input's results.json, byte for byte, to inputs/<label>/results.json under outDir (an
 * input read from its own copy, when a merged report is made again in place, stays as it is);
 * returns, in the order given, the copy each input is linked to (an input given twice: its first's).
 * Every source is read before anything is written, so no copy overwrites a source still to be read.
 */
export async function keepInputs(loaded: readonly LoadedResults[], outDir: string): Promise<string[]> {
  const results = loaded.map((l) => l.results);
  const runs = runViews(results);
  const copies = destinations(runs, outDir);
  for (const { index, sameAs } of repeatedInputs(results)) copies.set(index, copies.get(sameAs)!);
  const kept = loaded.map((_, i) => copies.get(i + 1)!);
  await refuseOtherInputs(outDir, kept);
  const pending = runs.map((run) => ({ copy: copies.get(run.index)!, source: loaded[run.index - 1].jsonPath })).filter(({ copy, source }) => resolve(copy) !== resolve(source));
  const contents = await Promise.all(pending.map(({ source }) => readFile(source)));
  await Promise.all(
    pending.map(async ({ copy }, i) => {
      await mkdir(dirname(copy), { recursive: true });
      await writeFile(copy, contents[i]);
    }),
  );
  return kept;
}
