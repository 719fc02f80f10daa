import { shortIdOf, type XdrPort } from '../ports/xdr.js';
import { SOURCE } from './xdr-render.js';

/**
 * XDR statuses of our open incidents, for the status sync: read with a few searches instead of one
 * GET per incident (issue 14). XDR allows an organisation 8,000 API calls an hour; with 9,500 open
 * incidents, one GET each used more than the hour's budget every XDR_STATUS_SYNC_SECONDS.
 *
 * The search lists the incidents Sightline created (`source`) since the oldest open one was opened
 * here (less a day, for clocks that disagree: XDR stamps `created` when the mirror reaches it, which
 * is never before the local opening). An incident the listing did not return (created by another
 * source, or past the last page) is read on its own, as before, so nothing is missed.
 */
export class RemoteStatuses {
  private listed: Promise<Map<string, string>> | undefined;

  constructor(
    private readonly xdr: Pick<XdrPort, 'getIncident' | 'incidentStatusesSince'>,
    /** The open incidents to be read: how many, and when the oldest was opened here. */
    private readonly open: { count: number; oldestOpenedAt?: string },
  ) {}

  /** The incident's status in XDR; undefined when XDR does not know it or gives none. Throws when XDR cannot be read. */
  async statusOf(xdrId: string): Promise<string | undefined> {
    const shortId = shortIdOf(xdrId);
    const listed = await this.listing();
    const known = listed.get(shortId);
    if (known !== undefined) return known;
    const remote = await this.xdr.getIncident(shortId);
    return typeof remote?.status === 'string' ? remote.status : undefined;
  }

  private listing(): Promise<Map<string, string>> {
    const { count, oldestOpenedAt } = this.open;
    if (!this.xdr.incidentStatusesSince || oldestOpenedAt === undefined || count < LIST_FROM) return Promise.resolve(new Map());
    const from = new Date(Date.parse(oldestOpenedAt) - SKEW_MS);
    if (Number.isNaN(from.getTime())) return Promise.resolve(new Map());
    this.listed ??= this.xdr.incidentStatusesSince(SOURCE, from.toISOString());
    return this.listed;
  }
}

/** Fewer open incidents than this are read one by one: a search would not save calls. */
const LIST_FROM = 3;

/** How far XDR's clock may run behind ours without an incident falling out of the listing. */
const SKEW_MS = 24 * 60 * 60 * 1000;
