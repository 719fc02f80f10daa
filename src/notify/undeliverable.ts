/**
 * A channel refused a notification for good (a permanent 4xx that no retry can change).
 * The outbox moves the item to the dead letters with `reason`, instead of retrying it at
 * the head of its queue forever (issue 17: one refused message stopped every later card).
 */
export class UndeliverableError extends Error {
  constructor(
    /** One sentence for the log, `hunt status` and the `outbox` command. */
    readonly reason: string,
    opts: { cause?: unknown } = {},
  ) {
    super(reason, { cause: opts.cause });
    this.name = 'UndeliverableError';
  }
}

/** HTTP statuses that a retry can change: throttling, locks, timeouts, server trouble, and a bad token the operator fixes. */
export function isTransientStatus(status: number | undefined): boolean {
  return status === undefined || status === 401 || status === 408 || status === 423 || status === 429 || status >= 500;
}
