import { closedMeanwhile, findOpenIncident, noOpenIncident, unknownIncident } from '../domain/correlation/target-query.js';
import type { Incident } from '../domain/correlation/types.js';
import type { CloseByIdResult, IncidentFilter, IncidentPageView, IncidentService, IncidentSightingLine } from '../domain/ports/services.js';
import type { IncidentView } from '../notify/notification.js';
import type { PostgresIncidentReads } from '../store/postgres/incident-reads.js';
import type { SharedCorrelation } from './shared-correlation.js';

/**
 * What the chat commands see of the incidents on PostgreSQL, on whichever instance Webex reaches:
 * reads straight from the database (all history until retention, so `incidents closed 40` answers
 * an audit), closes through the apply loop's `closeIncident` so XDR and the rooms hear about them.
 * Lists are newest first in the paging indexes' order: open by last sighting, closed by close time,
 * all by opening.
 */
export class PostgresIncidentService implements IncidentService {
  constructor(
    private readonly reads: PostgresIncidentReads,
    private readonly correlation: Pick<SharedCorrelation, 'closeIncident' | 'view' | 'isClosed'>,
  ) {}

  /** `page` is 1-based; `total` counts every incident kept under the filter. */
  async list(filter: IncidentFilter, page: number, pageSize: number): Promise<IncidentPageView> {
    const limit = Math.min(Math.max(1, Math.floor(pageSize) || 1), 500);
    const req = { limit, page: Math.max(1, Math.floor(page) || 1) };
    const [found, total] = await Promise.all([
      filter === 'open' ? this.reads.openIncidents(req) : filter === 'closed' ? this.reads.closedIncidents(req) : this.reads.allIncidents(req),
      this.reads.countIncidents(filter),
    ]);
    return { items: found.items.map((i) => this.correlation.view(i)), total };
  }

  async close(target: string, by: string, reason?: string): Promise<IncidentView> {
    const inc = await findOpenIncident(target, {
      openByKey: (key) => this.reads.openIncidentByKey(key),
      byId: (id) => this.reads.incidentByAnyId(id),
      isOpen: (i) => this.isOpen(i),
      openByValue: (values) => this.reads.openIncidentByValue(values),
    });
    if (!inc || !this.isOpen(inc)) throw noOpenIncident(target);
    const view = await this.correlation.closeIncident(inc.id, by, reason);
    if (!view) throw closedMeanwhile(target);
    return view;
  }

  /** The card's button: acts on the incident the card shows, by id — never on a newer incident of its target. */
  async closeById(incidentId: string, by: string, reason?: string): Promise<CloseByIdResult> {
    const inc = await this.reads.incidentByAnyId(incidentId);
    if (!inc) throw unknownIncident(incidentId);
    if (this.isOpen(inc)) {
      const view = await this.correlation.closeIncident(inc.id, by, reason);
      if (view) return { closed: true, incident: view };
    }
    const current = (await this.reads.incident(inc.id)) ?? inc;
    const open = await this.reads.openIncidentByKey(current.targetKey);
    return {
      closed: false,
      incident: this.correlation.view(current),
      ...(open && open.id !== current.id && this.isOpen(open) ? { open: this.correlation.view(open) } : {}),
    };
  }

  /** Newest observed first, from every sighting kept (not only the newest 50). */
  async sightings(incidentId: string, limit: number): Promise<IncidentSightingLine[]> {
    const inc = await this.reads.incidentByAnyId(incidentId);
    if (!inc) throw unknownIncident(incidentId);
    const want = Math.max(0, Math.floor(limit));
    const rows = await this.reads.incidentSightings(inc.id, want);
    // The first sighting is in the table too, except for an incident imported from lowdb without it.
    const all = rows.some((r) => r.seq === inc.initial.seq) ? rows : [...rows, inc.initial];
    return all
      .sort((a, b) => b.observedAt.localeCompare(a.observedAt) || b.seq - a.seq)
      .slice(0, want)
      .map((s) => ({ observedAt: s.observedAt, ioc: `${s.ioc.type}:${s.ioc.value}`, source: s.source }));
  }

  private isOpen(inc: Incident): boolean {
    return !inc.closedAt && !this.correlation.isClosed(inc.status);
  }
}
