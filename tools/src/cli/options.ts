import { UsageError } from '../util/errors.ts';

/** A repeatable option's values, in order. */
export const collect = (v: string, acc: string[]) => [...acc, v];

/** A whole-number option: above 0, or 0 too when `allowZero`. */
export function positiveInt(flag: string, v: string, allowZero = false): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new UsageError(`${flag} takes a whole number${allowZero ? '' : ' above 0'}, not '${v}'`);
  return n;
}
