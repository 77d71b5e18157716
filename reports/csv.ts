import { PERF_COUNTERS, type Results, type RunSample } from '../bench/results.js';
import { migrated } from '../bench/statistics.js';
import { runViews } from './runs.js';

/**
 * results.csv: one row per round and arm, tidy, for people's own notebooks; `input` tells the
 * inputs of a merged report apart (its host/kernel label, "#n" when several share one). Empty field = no
 * value (a counter the machine cannot count, events on a baseline run). The cell's block figures
 * (blocks, between_block_sd_pp, look_confidence, migrated_runs) repeat on each of its rows and are
 * empty for a cell without statistics.
 */

type Field = string | number | boolean | null | undefined;

function csvField(value: Field): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** PERF_COUNTERS first, in their order, then any other counter found, sorted. */
function perfColumns(results: readonly Results[]): string[] {
  const found = new Set(results.flatMap((r) => r.cells.flatMap((c) => c.rounds.flatMap((round) => [...Object.keys(round.baseline.perf), ...Object.keys(round.probed.perf)]))));
  const known: readonly string[] = PERF_COUNTERS;
  return [...known, ...[...found].filter((c) => !known.includes(c)).sort()];
}

const FIXED_COLUMNS = [
  'input', 'host', 'kernel', 'vm_accel', 'mechanism', 'workload', 'hook_point', 'verdict', 'blocks', 'between_block_sd_pp', 'look_confidence', 'migrated_runs',
  'round', 'block', 'cpu', 'arm', 'order_position', 'started_at_ms', 'ops', 'ns', 'ns_per_op', 'events', 'in_program_ns', 'attach_ms', 'detach_ms',
  'cpu_start', 'cpu_end', 'migrated', 'outlier_round',
];

export function resultsCsv(results: readonly Results[]): string {
  const counters = perfColumns(results);
  const header = [...FIXED_COLUMNS, ...counters.map((c) => `perf_${c.replace(/-/g, '_')}`)];
  const lines = [header.join(',')];
  for (const run of runViews(results)) {
    for (const cell of run.results.cells) {
      const outliers = new Set(cell.stats?.outlierRounds ?? []);
      const stats = cell.stats;
      for (const round of cell.rounds) {
        for (const arm of ['baseline', 'probed'] as const) {
          const sample: RunSample = round[arm];
          const fields: Field[] = [
            run.label, run.results.environment.hostname, run.results.environment.kernelRelease, run.results.environment.accel, cell.mechanism, cell.workload, cell.hookPoint, cell.verdict,
            stats?.blocks, stats?.betweenBlockSd, stats?.lookConfidence, stats?.migratedRuns,
            round.index, round.block, round.cpu, arm, round.order.indexOf(arm) + 1, sample.startedAt, sample.ops, sample.ns, sample.nsPerOp,
            sample.events, sample.inProgramNs, sample.attachMs, sample.detachMs,
            sample.cpuStart, sample.cpuEnd, migrated(sample), outliers.has(round.index),
            ...counters.map((c) => sample.perf[c]),
          ];
          lines.push(fields.map(csvField).join(','));
        }
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
