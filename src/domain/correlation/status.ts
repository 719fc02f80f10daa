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

/**
 * Which stage of XDR's queue a status is in (xdr-api.md §4.3): the XDR sub-statuses
 * `New: …`, `Open: …`, `Hold: …`, `Closed: …` belong to their prefix; the SecureX-era
 * `Stalled`, `Containment Achieved`, `Restoration Achieved` and `Incident Reported`
 * are still being worked (open), `Rejected` is its own. Only `closed` (and `rejected`,
 * when configured) ends an incident: a held one keeps counting sightings.
 */
export type StatusFamily = 'new' | 'open' | 'hold' | 'closed' | 'rejected';

export function statusFamily(status: string): StatusFamily {
  const s = status.trim();
  const prefix = /^(New|Open|Hold|Closed)(: .+)?$/.exec(s)?.[1];
  if (prefix) return prefix.toLowerCase() as StatusFamily;
  return s === 'Rejected' ? 'rejected' : 'open';
}
