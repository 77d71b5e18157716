import type { TopLevelSpec } from 'vega-lite';
import type { LatencyStats } from '../../bench/results.js';
import { countText, marginPercent, msText } from '../format.js';
import type { RunView } from '../runs.js';
import type { ChartBuilder } from './types.js';
import { CHART_CONFIG, logDecades, SCHEMA_URL } from './theme.js';

const TITLE = 'Attach and detach latency';

const OPERATIONS = ['attach', 'detach'] as const;
type Operation = (typeof OPERATIONS)[number];

interface LatencyPoint {
  /** The mechanism, with " @ <kernel>" when several runs are reported together. */
  series: string;
  operation: Operation;
  meanMs: number;
  p99Ms: number;
  mean: string;
  p99: string;
  rme: string;
  n: string;
}

function point(series: string, operation: Operation, stats: LatencyStats): LatencyPoint {
  const { meanMs, p99Ms } = stats;
  return { series, operation, meanMs, p99Ms, mean: msText(meanMs), p99: msText(p99Ms), rme: marginPercent(stats.rme), n: countText(stats.samples) };
}

function seriesName(mechanism: string, run: RunView, several: boolean): string {
  return several ? `${mechanism} @ ${run.label}` : mechanism;
}

function pointsFor(run: RunView, several: boolean): LatencyPoint[] {
  return (run.results.latency?.mechanisms ?? []).flatMap((m) =>
    m.status === 'measured' ? OPERATIONS.map((operation) => point(seriesName(m.mechanism, run, several), operation, m[operation])) : [],
  );
}

/** Mechanisms without times, said in words: "kprobe (unsupported)". */
function notTimed(runs: readonly RunView[], several: boolean): string[] {
  return runs.flatMap((run) => (run.results.latency?.mechanisms ?? []).flatMap((m) => (m.status === 'measured' ? [] : [`${seriesName(m.mechanism, run, several)} (${m.status})`])));
}

/**
 * Each timed mechanism's attach and detach, mean (dot) and p99 (tick) joined by a line, on a log
 * axis: they run from a fraction of a millisecond (tracefs) to seconds (bpftrace).
 */
function build(runs: readonly RunView[]): TopLevelSpec | null {
  const several = runs.length > 1;
  const all = runs.flatMap((run) => pointsFor(run, several));
  // A log axis cannot show 0: a time below the timer's resolution is said in words instead.
  const points = all.filter((p) => p.meanMs > 0 && p.p99Ms > 0);
  if (points.length === 0) return null;
  const unshown = [...notTimed(runs, several), ...all.filter((p) => !points.includes(p)).map((p) => `${p.series} ${p.operation} (0 ms)`)];
  const values = points.flatMap((p) => [p.meanMs, p.p99Ms]);
  const ticks = logDecades(Math.min(...values), Math.max(...values));
  const x = { type: 'quantitative' as const, title: 'ms (log scale)', scale: { type: 'log' as const, domain: [ticks[0], ticks[ticks.length - 1]] }, axis: { values: ticks, format: ',' } };
  const tooltip = [
    { field: 'series', title: 'mechanism' },
    { field: 'operation', title: 'operation' },
    { field: 'mean', title: 'mean' },
    { field: 'p99', title: 'p99' },
    { field: 'rme', title: 'relative margin of error (95 %)' },
    { field: 'n', title: 'cycles timed' },
  ];
  return {
    $schema: SCHEMA_URL,
    title: {
      text: TITLE,
      subtitle: [
        'attach → detach cycles on the mprotect hook point, each operation timed alone: mean (dot) and p99 (tick), log scale',
        ...(unshown.length ? [`Not shown: ${unshown.join(', ')}`] : []),
      ],
    },
    config: CHART_CONFIG,
    data: { values: points },
    width: 560,
    // With an offset the step is per operation: attach and detach side by side.
    height: { step: 13 },
    encoding: {
      y: { field: 'series', type: 'nominal', title: null, sort: null },
      yOffset: { field: 'operation', type: 'nominal', scale: { domain: [...OPERATIONS] } },
      color: { field: 'operation', type: 'nominal', title: null, scale: { domain: [...OPERATIONS], range: ['#3366aa', '#cc6677'] } },
      tooltip,
    },
    layer: [
      { mark: { type: 'rule', size: 2 }, encoding: { x: { ...x, field: 'meanMs' }, x2: { field: 'p99Ms' } } },
      { mark: { type: 'point', filled: true, size: 70, opacity: 1 }, encoding: { x: { ...x, field: 'meanMs' } } },
      { mark: { type: 'tick', thickness: 2, size: 11 }, encoding: { x: { ...x, field: 'p99Ms' } } },
    ],
  };
}

export const latencyChart: ChartBuilder = {
  name: 'latency',
  title: TITLE,
  build: ({ runs }) => build(runs),
};
