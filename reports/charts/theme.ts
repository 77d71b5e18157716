import type { Config } from 'vega-lite';
import type { Scale } from 'vega-lite/types_unstable/scale.js';
import type { Verdict } from '../../bench/results.js';

/** Fonts available on a Debian machine with fonts-dejavu-core (PNG) and in any browser (HTML). */
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

export const SCHEMA_URL = 'https://vega.github.io/schema/vega-lite/v6.json';

export const CHART_CONFIG: Config = {
  font: FONT,
  background: 'white',
  padding: 16,
  axis: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: 'normal', labelLimit: 420, gridColor: '#e8e8e8' },
  header: { labelFontSize: 13, labelFontWeight: 'bold', titleFontSize: 13 },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 360, orient: 'bottom', direction: 'horizontal' },
  title: { fontSize: 16, subtitleFontSize: 12, subtitleColor: '#555555', anchor: 'start', offset: 12 },
  view: { stroke: '#dddddd' },
};

/** Fixed so a verdict has the same colour in every chart and document; tells apart for most colour-blind readers. */
export const VERDICT_COLOURS: Record<Verdict, string> = {
  PASS: '#1b9e77',
  FAIL: '#d95f02',
  INCONCLUSIVE: '#e6ab02',
  INVALID: '#8c8c8c',
  UNSUPPORTED: '#bdbdbd',
  ERROR: '#7570b3',
};

export const BUDGET_COLOUR = '#b00020';

/** A colour scale over just the verdicts present, each in its fixed colour. */
export function verdictScale(verdicts: readonly Verdict[]): Scale {
  const domain = (Object.keys(VERDICT_COLOURS) as Verdict[]).filter((v) => verdicts.includes(v));
  return { domain, range: domain.map((v) => VERDICT_COLOURS[v]) };
}

const SYMLOG_TICKS = [5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000];

/**
 * Overheads run from a few per cent (tracepoints) to thousands (audit with auditd); on a linear axis
 * the small ones vanish. Past 150 % the axis turns symmetric-log, says so in its title, and gets
 * ticks a reader can read (0, ±5, ±10, ±20, ...).
 */
export function overheadAxis(values: readonly number[]): { scale: Scale; axisValues?: number[]; title: string } {
  const extent = Math.max(0, ...values.map(Math.abs));
  if (extent <= 150) return { scale: { type: 'linear', zero: true }, title: 'overhead, %' };
  const low = Math.min(0, ...values);
  const high = Math.max(0, ...values);
  const ticks = [0, ...SYMLOG_TICKS.flatMap((t) => [t, -t])].filter((t) => t >= low * 1.5 && t <= high * 1.5).sort((a, b) => a - b);
  return { scale: { type: 'symlog', constant: 1 }, axisValues: ticks, title: 'overhead, % (symmetric log scale)' };
}

/** Powers of ten for a log axis: from just below the smallest value (half of it, to leave room) to the largest. */
export function logDecades(smallest: number, largest: number): number[] {
  const low = Math.floor(Math.log10(smallest / 2));
  const high = Math.ceil(Math.log10(largest));
  return Array.from({ length: Math.max(1, high - low) + 1 }, (_, i) => 10 ** (low + i));
}
