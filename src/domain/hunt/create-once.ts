import type { Clock } from '../../core/clock.js';
import { UpstreamError } from '../../core/errors.js';

/**
 * How often a hunt tries to file one XDR entity (casebook, incident, sighting, relationship)
 * before the threat's outcome reports the error. Six tries, 0.5 s to 8 s apart (15.5 s in
 * all): with four, an XDR failing a quarter of its creates lost about one casebook in 250
 * (the faults suite's small run, five casebooks a hunt, saw it once in about a dozen runs);
 * with six, one in 4,000.
 */
export const CREATE_ATTEMPTS = 6;

/**
 * Runs `lookupThenCreate` until it succeeds, the error is not worth retrying, or the attempts
 * are spent. The step must look the entity up by its external id before creating it: a create
 * that failed with a 5xx or a dropped connection may still have happened, so it is retried as
 * a whole — lookup first — never as a blind second POST.
 */
export async function createOnce<T>(clock: Clock, lookupThenCreate: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await lookupThenCreate();
    } catch (err) {
      if (attempt >= CREATE_ATTEMPTS || !(err instanceof UpstreamError && err.retryable)) throw err;
      await clock.sleep(250 * 2 ** attempt);
    }
  }
}
