import { hookTargetFor } from './hookpoints.js';
import type { AttachContext, Mechanism, Support } from './types.js';

/**
 * The honest support check: really attach the mechanism on the mprotect target and detach it again;
 * an unsupported mechanism reports the error its attach met, in the kernel's or the tool's own words.
 */
export async function detectByAttaching<H>(mechanism: Mechanism<H>, ctx: AttachContext): Promise<Support> {
  const target = hookTargetFor('mprotect');
  let handle: H;
  try {
    handle = await mechanism.attach(target, ctx);
  } catch (err) {
    return { supported: false, reason: (err as Error).message };
  }
  await mechanism.detach(handle);
  return { supported: true, reason: `attached and detached on ${mechanism.hookPoint(target)}` };
}
