import { MegapakError } from '../util/errors.ts';

/** A failure worth another try: the connection dropped or the registry answered 5xx/416. */
export class RetryableError extends MegapakError {}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  /** First backoff in ms; doubles each retry. */
  backoffMs: number;
}

/**
 * The one retry loop of the registry client: run `attempt(n)` (n = 0 first) until it
 * succeeds, retrying a RetryableError up to `retries` times with exponential backoff.
 */
export async function withRetry<T>(policy: RetryPolicy, attempt: (n: number) => Promise<T>, retryable = (e: unknown) => e instanceof RetryableError): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!retryable(err) || n >= policy.retries) throw err;
      await sleep(policy.backoffMs * 2 ** n);
    }
  }
}
