import type { Journal, JournalEntry } from './journal.js';
import { detectByAttaching } from './detect.js';
import { undoJournaled } from './undo.js';
import type { Mechanism } from './types.js';

export interface NoneHandle {
  journal: Journal;
  journalId: number;
  entry: JournalEntry;
}

/**
 * Nothing attached: the harness's self-validation cell. It goes through the whole procedure every
 * other mechanism does (a journaled attach, a count, a detach, interleaved with baselines) with no hook
 * in the kernel, so its overhead's CI must contain 0; if it does not, the harness measures a
 * difference where there is none, and no other cell of the run can be trusted to that extent.
 */
export const none: Mechanism<NoneHandle> = {
  name: 'none',
  family: 'none',
  summary: 'nothing attached (journaled attach, count 0, detach): a self-validation cell whose overhead CI must contain 0',
  hookPoint: () => '(nothing attached)',
  expectedPerOp: () => 0,
  detect: (ctx) => detectByAttaching(none, ctx),
  attach: async (_target, ctx) => {
    const entry: JournalEntry = { kind: 'none', tag: ctx.tag };
    return { journal: ctx.journal, journalId: ctx.journal.add(entry), entry };
  },
  scope: async () => {},
  count: async () => ({ events: 0 }),
  detach: (h) => undoJournaled(h.journal, h.journalId, h.entry),
};
