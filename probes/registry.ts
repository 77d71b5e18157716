import { audit, auditIdle, auditOther } from './audit.js';
import { tracepoint } from './tracepoint.js';
import type { AnyMechanism } from './types.js';

/** Every mechanism hookbench knows, in the order reports list them. Adding one: one file, one line here. */
export const MECHANISMS: readonly AnyMechanism[] = [
  tracepoint,
  audit,
  auditIdle,
  auditOther,
];

export function mechanismByName(name: string): AnyMechanism | undefined {
  return MECHANISMS.find((m) => m.name === name);
}
