import { tracepoint } from './tracepoint.js';
import type { AnyMechanism } from './types.js';

/** Every mechanism hookbench knows, in the order reports list them. Adding one: one file, one line here. */
export const MECHANISMS: readonly AnyMechanism[] = [
  tracepoint,
];

export function mechanismByName(name: string): AnyMechanism | undefined {
  return MECHANISMS.find((m) => m.name === name);
}
