/**
 * Which incident statuses mean "closed". The seed compared `status == "Closed"`
 * literally and so kept patching `Closed: False Positive` and `Rejected` incidents
 * (seeds.md §1.10). CTIA's own test is `^Closed(: .+)?$` (xdr-api.md §4.3);
 * `Rejected` counts as closed unless CORRELATION_REJECTED_IS_CLOSED=false.
 */
const CLOSED = /^Closed(: .+)?$/;

export interface ClosedStatusOptions {
  rejectedIsClosed: boolean;
}

export function isClosedStatus(status: string | undefined, opts: ClosedStatusOptions): boolean {
  if (typeof status !== 'string') return false;
  const s = status.trim();
  if (CLOSED.test(s)) return true;
  return opts.rejectedIsClosed && s === 'Rejected';
}
