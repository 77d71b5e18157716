import { msText } from '../reports/format.js';
import type { Cell, LatencyStats, MechanismLatency } from './results.js';
import type { ProgressEvent } from './runner.js';
import { cellKey } from './store.js';

const pct = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)} %`;

/** One line per finished cell: what a reader of a CI log needs. */
function cellLine(cell: Cell): string {
  const key = cellKey(cell).padEnd(30);
  const s = cell.stats;
  if (!s || cell.verdict === 'INVALID' || cell.verdict === 'UNSUPPORTED' || cell.verdict === 'ERROR') {
    return `${key} ${cell.verdict.padEnd(12)} ${cell.reason ?? ''}`;
  }
  const m = s.overheadMedian;
  return `${key} ${cell.verdict.padEnd(12)} ${pct(m.value)} [${m.ciLow.toFixed(1)}, ${m.ciHigh.toFixed(1)}] (blocks spread ${s.betweenBlockSd.toFixed(1)} pp)  ${s.eventsPerOp.median.toFixed(2)} ev/op  ${s.rounds} rounds in ${s.blocks} blocks (${s.stopReason})`;
}

const latencyFigures = (s: LatencyStats) => `${msText(s.meanMs)} (p99 ${msText(s.p99Ms)}, n ${s.samples})`;

/** One line per mechanism whose attach and detach were timed: they take minutes in all where bpftrace is. */
export function latencyLine(l: MechanismLatency): string {
  const figures = l.status === 'measured' ? `attach ${latencyFigures(l.attach)}, detach ${latencyFigures(l.detach)}` : `${l.status}: ${l.reason}`;
  return `latency ${l.mechanism}: ${figures}`;
}

/**
 * Live progress: on a TTY one line rewritten in place (cell, block, overhead +- CI); otherwise plain
 * lines, one per block and one per finished cell.
 */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): (e: ProgressEvent) => void {
  const tty = stream.isTTY === true;
  const clear = () => tty && stream.write('\r\x1b[K');
  return (e) => {
    switch (e.type) {
      case 'detected':
        if (!e.support.supported) stream.write(`${e.mechanism}: unsupported here: ${e.support.reason}\n`);
        return;
      case 'calibrated':
        stream.write(`${e.workload}: ${e.iterations} ops per run\n`);
        return;
      case 'cell-start':
        stream.write(`[${e.index + 1}/${e.total}] ${cellKey(e.cell)}\n`);
        return;
      case 'block': {
        const m = e.measures;
        const line = `  ${cellKey(e.cell)} block ${e.block + 1} (CPU ${e.cpu}): ${pct(m.overheadMedian.value)} ± ${m.ciHalfWidth.toFixed(2)} pp after ${m.rounds} rounds, ${m.eventsPerOp.median.toFixed(2)} ev/op`;
        if (tty) stream.write(`\r\x1b[K${line}`);
        else stream.write(`${line}\n`);
        return;
      }
      case 'cell-end':
        clear();
        stream.write(`  ${cellLine(e.cell)}\n`);
        return;
      case 'latency':
        stream.write(`${latencyLine(e.latency)}\n`);
        return;
    }
  };
}
