import type { CloseByIdResult, IncidentFilter, IncidentService } from '../ports/services.js';
import type { IncidentView } from '../../notify/notification.js';
import { shortIdOf } from '../ports/xdr.js';
import type { CorrelationEngine } from './engine.js';
import { closedMeanwhile, findOpenIncident, noOpenIncident, unknownIncident } from './target-query.js';
import type { Incident } from './types.js';

/**
 * What the chat commands see of the correlator: list, close, sightings.
 * Reads come straight from the state; changes go through the engine so XDR and
 * the rooms hear about them.
 */
export class CorrelationIncidentService implements IncidentService {
  constructor(private readonly engine: CorrelationEngine) {}

  /** `page` is 1-based; newest last sighting first. */
  list(filter: IncidentFilter, page: number, pageSize: number): { items: IncidentView[]; total: number } {
    const all = Object.values(this.engine.state().incidents)
      .filter((i) => filter === 'all' || (filter === 'closed') === this.engine.isClosed(i.status))
      .sort((a, b) => b.lastSeen.localeCompare(a.lastSeen) || b.ordinal - a.ordinal);
    const size = Math.max(1, Math.floor(pageSize) || 1);
    const start = (Math.max(1, Math.floor(page) || 1) - 1) * size;
    return { items: all.slice(start, start + size).map((i) => this.engine.view(i)), total: all.length };
  }

  async close(target: string, by: string, reason?: string): Promise<IncidentView> {
    const inc = await this.findOpen(target);
    if (!inc) throw noOpenIncident(target);
    const view = await this.engine.closeIncident(inc.id, by, reason);
    if (!view) throw closedMeanwhile(target);
    return view;
  }

  /**
   * The card's button: acts on the incident the card shows, by id — never on the
   * target re-parsed (a hostname `ip:10.1.1.1` is not the IP), never on a newer
   * incident of the same target.
   */
  async closeById(incidentId: string, by: string, reason?: string): Promise<CloseByIdResult> {
    const inc = this.byId(incidentId);
    if (!inc) throw unknownIncident(incidentId);
    if (!this.engine.isClosed(inc.status)) {
      const view = await this.engine.closeIncident(inc.id, by, reason);
      if (view) return { closed: true, incident: view };
    }
    const current = this.byId(inc.id) ?? inc;
    const state = this.engine.state();
    const openId = state.openByTarget[current.targetKey];
    const open = openId && openId !== current.id ? state.incidents[openId] : undefined;
    return {
      closed: false,
      incident: this.engine.view(current),
      ...(open && !this.engine.isClosed(open.status) ? { open: this.engine.view(open) } : {}),
    };
  }

  sightings(incidentId: string, limit: number): { observedAt: string; ioc: string; source: string }[] {
    const inc = this.byId(incidentId);
    if (!inc) throw unknownIncident(incidentId);
    return [inc.initial, ...inc.recentSightings]
      .sort((a, b) => b.observedAt.localeCompare(a.observedAt) || b.seq - a.seq)
      .slice(0, Math.max(0, limit))
      .map((s) => ({ observedAt: s.observedAt, ioc: `${s.ioc.type}:${s.ioc.value}`, source: s.source }));
  }

  /** An incident by local id, XDR short id or XDR long id. */
  private byId(id: string): Incident | undefined {
    const incidents = this.engine.state().incidents;
    const wanted = id.trim();
    return incidents[wanted] ?? Object.values(incidents).find((i) => i.xdrId !== undefined && (i.xdrId === wanted || shortIdOf(i.xdrId) === wanted));
  }

  /** The open incident for a target typed by an analyst (target-query.ts says how). */
  private findOpen(typed: string): Promise<Incident | undefined> {
    const state = this.engine.state();
    const open = (key: string) => {
      const id = state.openByTarget[key];
      const inc = id ? state.incidents[id] : undefined;
      return inc && !this.engine.isClosed(inc.status) ? inc : undefined;
    };
    return findOpenIncident(typed, {
      openByKey: open,
      byId: (id) => this.byId(id),
      isOpen: (i) => !this.engine.isClosed(i.status),
      openByValue: (values) => {
        const wanted = new Set(values);
        return Object.values(state.incidents).find((i) => !this.engine.isClosed(i.status) && state.openByTarget[i.targetKey] === i.id && wanted.has(i.targetValue));
      },
    });
  }
}
