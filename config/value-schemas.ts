import { z } from 'zod';

/**
 * The kinds of value a configuration variable holds, each read from the variable's text. Their
 * messages are what an operator sees after `NAME="value": `, so they say what is expected.
 */

const hostPorts = (s: string) =>
  s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each entry must be host:port');

/** Comma-separated host:port entries (blanks around commas ignored), at least one. */
export const hostPortList = z
  .string()
  .transform(hostPorts)
  .pipe(z.array(hostPort).min(1, 'at least one host:port is required'));

/** Comma-separated host:port entries, possibly none. */
export const optionalHostPortList = z.string().transform(hostPorts).pipe(z.array(hostPort));

export const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

export const url = (protocols: string[]) =>
  z.string().refine(
    (s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  );

/** Exactly `true` or `false`, as a boolean. */
export const flag = z.enum(['true', 'false']).transform((s) => s === 'true');

/** The stages of a step's delivery a test may crash the pipeline at (TICKS_FAULT_KILL_AT). */
export const FAULT_STAGES = ['produced', 'flushed'] as const;

/** Empty: none; or `<stage>:<n>`, the n-th (from 1) step delivery to reach that stage. */
export const faultPoint = z
  .string()
  .regex(
    new RegExp(`^(|(${FAULT_STAGES.join('|')}):[1-9][0-9]{0,8})$`),
    `must be empty or <${FAULT_STAGES.join('|')}>:<n> with n ≥ 1, e.g. produced:3`,
  )
  .transform((s) => {
    if (s === '') return null;
    const [stage, n] = s.split(':') as [(typeof FAULT_STAGES)[number], string];
    return { stage, delivery: Number(n) };
  });
