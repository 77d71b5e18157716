import type { Estimate } from '../bench/results.js';

/**
 * Number formatting shared by every report, so a figure reads the same in the terminal, the
 * Markdown, the HTML and a chart tooltip. Locale-independent on purpose: reports are published.
 */

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function decimalsFor(magnitude: number): number {
  if (magnitude >= 100) return 0;
  if (magnitude >= 10) return 1;
  return 2;
}

function signed(text: string, value: number): string {
  return value > 0 ? `+${text}` : text;
}

/** A percentage with a precision that suits its size, signed only if negative: "0.84", "-20.3", "1,114". */
function percentText(value: number): string {
  const magnitude = Math.abs(value);
  return magnitude >= 100 ? grouped.format(value) : value.toFixed(decimalsFor(magnitude));
}

/** A percentage with a sign and a precision that suits its size: "+0.84", "+20.3", "+1,114". */
export function percentNumber(value: number): string {
  return signed(percentText(value), value);
}

/** A relative margin of error: "±4.13 %", "±12.5 %". */
export function marginPercent(value: number): string {
  return `±${percentText(Math.abs(value))} %`;
}

/** Milliseconds to three significant digits: "0.203 ms", "17.4 ms", "1,050 ms". */
export function msText(value: number): string {
  return `${significant(value)} ms`;
}

/** A count, grouped: "988", "12,300". */
export function countText(value: number): string {
  return grouped.format(value);
}

/** "+20.3 %" */
export function percent(value: number): string {
  return `${percentNumber(value)} %`;
}

/** "[+18.9, +21.6]": an estimate's CI, its ends formatted by `figure`. */
export function ciText(estimate: Estimate, figure: (value: number) => string = percentNumber): string {
  return `[${figure(estimate.ciLow)}, ${figure(estimate.ciHigh)}]`;
}

/** "+20.3 % [+18.9, +21.6]": the headline overhead with its 95 % CI. */
export function percentWithCi(estimate: Estimate): string {
  return `${percent(estimate.value)} ${ciText(estimate)}`;
}

/** Nanoseconds, grouped, with one decimal below 10 ns: "468", "25,500", "5.2". */
export function nsNumber(value: number): string {
  return Math.abs(value) < 10 ? value.toFixed(1) : grouped.format(value);
}

/** "468 ns [401, 530]" */
export function nsWithCi(estimate: Estimate): string {
  return `${nsNumber(estimate.value)} ns ${ciText(estimate, nsNumber)}`;
}

/** Three significant digits, grouped from 1,000 up: "1.00", "0.000412", "12,300". */
export function significant(value: number, digits = 3): string {
  return Math.abs(value) >= 10 ** digits ? grouped.format(value) : value.toPrecision(digits);
}

/** Events per op as printed in tables: two decimals, which is what the 0.99 validity bar needs. */
export function eventsPerOp(value: number): string {
  return value.toFixed(2);
}
