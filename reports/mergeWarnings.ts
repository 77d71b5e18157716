import type { RunOptions, Results } from '../bench/results.js';
import { hookbenchVersion } from './environment.js';
import { cellViews, type CellView } from './model.js';
import { repeatedInputs, runViews, type RunView } from './runs.js';

/**
 * What a reader of a report over many inputs must know before reading a figure: inputs given twice,
 * cells measured by more than one input for the same host/kernel, and inputs measured by different
 * hookbench versions or with different options. Shown at the top of report.html and summary.md.
 */

/** Run options whose difference changes what a figure or a verdict means, with how to print them. */
const COMPARED_OPTIONS: [label: string, of: (o: RunOptions) => string][] = [
  ['budget', (o) => `${o.budget} %`],
  ['precision target', (o) => `±${o.precision} pp`],
  ['confidence', (o) => `${Math.round(o.confidence * 1000) / 10} %`],
  ['min rounds', (o) => String(o.minRounds)],
  ['max rounds', (o) => String(o.maxRounds)],
  ['max time per cell', (o) => `${o.maxTimeS} s`],
  ['run length', (o) => `${o.runMs} ms`],
];

/** How many duplicate cells a warning names before it says "and n more". */
const LISTED_DUPLICATES = 6;

/**
 * "0.2.0 in host-b 6.18; 0.1.0 in the other 4 inputs": the inputs of each distinct value, the most
 * common value last and short; null when every run has the same value.
 */
function mixed(runs: readonly RunView[], of: (run: RunView) => string): string | null {
  const groups = new Map<string, string[]>();
  for (const run of runs) groups.set(of(run), [...(groups.get(of(run)) ?? []), run.label]);
  if (groups.size < 2) return null;
  const [common, ...others] = [...groups].sort((a, b) => b[1].length - a[1].length);
  const named = others.map(([value, labels]) => `${value} in ${labels.join(', ')}`);
  const [value, labels] = common;
  return [...named, labels.length > 1 ? `${value} in the other ${labels.length} inputs` : `${value} in ${labels[0]}`].join('; ');
}

function inputName(index: number, sources: readonly (string | undefined)[]): string {
  const source = sources[index - 1];
  return source ? `input ${index} (${source})` : `input ${index}`;
}

function repeatedWarnings(results: readonly Results[], sources: readonly (string | undefined)[]): string[] {
  return repeatedInputs(results).map(
    ({ index, sameAs }) => `The same results were given twice: ${inputName(index, sources)} repeats ${inputName(sameAs, sources)}; they are shown once.`,
  );
}

function duplicatesWarning(cells: readonly CellView[]): string[] {
  const duplicates = cells.filter((c) => c.duplicate && c.shown);
  if (duplicates.length === 0) return [];
  const listed = duplicates.slice(0, LISTED_DUPLICATES).map((c) => {
    const { runs, shown, why } = c.duplicate!;
    const number = (run: RunView) => `#${run.ordinal}`;
    return `${c.mechanism} × ${c.workload} on ${c.run.environment.label} (inputs ${runs.map(number).join(' and ')}; shown: ${number(shown)}, ${why})`;
  });
  const more = duplicates.length > LISTED_DUPLICATES ? `, and ${duplicates.length - LISTED_DUPLICATES} more` : '';
  const count = duplicates.length === 1 ? '1 cell was' : `${duplicates.length} cells were`;
  return [`${count} measured by more than one input for one host/kernel: ${listed.join('; ')}${more}. Each measurement is in Verdicts with a note; the summary and the charts show one.`];
}

function versionsWarning(runs: readonly RunView[]): string[] {
  const versions = mixed(runs, (run) => hookbenchVersion(run.results));
  return versions ? [`Inputs measured by different hookbench versions (${versions}): a difference between them may be the harness's.`] : [];
}

function optionsWarning(runs: readonly RunView[]): string[] {
  const differing = COMPARED_OPTIONS.flatMap(([label, of]) => {
    const values = mixed(runs, (run) => of(run.results.options));
    return values ? [{ label, text: `${label}: ${values}` }] : [];
  });
  if (differing.length === 0) return [];
  const budget = differing.some((d) => d.label === 'budget') ? "each verdict is against its own input's budget, and " : '';
  return [`Inputs measured with different options (${differing.map((d) => d.text).join('; ')}): ${budget}read their CIs with that in mind.`];
}

/** The warnings, most basic first; none for a single input. `sources` name each input's file, in the order given. */
export function reportWarnings(results: readonly Results[], sources: readonly (string | undefined)[] = []): string[] {
  const runs = runViews(results);
  return [...repeatedWarnings(results, sources), ...duplicatesWarning(cellViews(results)), ...versionsWarning(runs), ...optionsWarning(runs)];
}
