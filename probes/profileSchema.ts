import { z } from 'zod';

/**
 * A profile file (`hookbench run --profile FILE.json`), also how a run's options keep the profiles it
 * measured:
 *   { "name": "my-agent", "description": "what it is", "hooks": ["execve", "connect"],
 *     "realisations": ["tracepoint", "audit"] }
 * name: lower-case letters, digits and '-' (it names the profile's cells, `<name>/<realisation>`);
 * hooks: hook names (`hookbench list` prints them; probes/profiles.ts HOOKS), no repeats; realisations:
 * optional, a subset of the realisations (probes/profileRealisations.ts), all of them when absent.
 * Nothing else is allowed. Names are checked against those tables by validateProfile (probes/profiles.ts).
 */
export const ProfileFileSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'lower-case letters, digits and -, starting with a letter, at most 40'),
  description: z.string().max(500).default(''),
  hooks: z.array(z.string()).min(1),
  realisations: z.array(z.string()).min(1).optional(),
});
export type ProfileFile = z.infer<typeof ProfileFileSchema>;
