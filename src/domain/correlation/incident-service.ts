import { isIP } from 'node:net';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import type { CloseByIdResult, IncidentFilter, IncidentService } from '../ports/services.js';
import type { IncidentView } from '../../notify/notification.js';
import { shortIdOf } from '../ports/xdr.js';
import { normaliseTargetValue } from '../investigate/target-identity.js';
import type { CorrelationEngine } from './engine.js';
import type { Incident } from './types.js';

/** Target types an analyst may prefix explicitly, as in `user:jdoe` (xdr-api.md §4.2 target identifiers). */
const TARGET_TYPES = new Set([
  'hostname', 'mac_address', 'ip', 'ipv6', 'amp_computer_guid', 'ms_machine_id', 's1_agent_id',
  'crowdstrike_id', 'user', 'email', 'device', 'serial_number', 'odns_identity', 'odns_identity_label',
]);

const MAC = /^(?:[0-9a-f]{2}([:-])(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}|[0-9a-f]{12})$/i;

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
    const inc = this.findOpen(target);
    if (!inc) throw new NotFoundError(`No open incident for ${target.trim()}: try \`incidents\` to see open ones`);
    const view = await this.engine.closeIncident(inc.id, by, reason);
    if (!view) throw new NotFoundError(`No open incident for ${target.trim()}: it was closed meanwhile; try \`incidents\` to see open ones`);
    return view;
  }

  /**
   * The card's button: acts on the incident the card shows, by id — never on the
   * target re-parsed (a hostname `ip:10.1.1.1` is not the IP), never on a newer
   * incident of the same target.
   */
  async closeById(incidentId: string, by: string, reason?: string): Promise<CloseByIdResult> {
    const inc = this.byId(incidentId);
    if (!inc) throw new NotFoundError(`No incident ${incidentId}: try \`incidents all\` to see the ones Sightline keeps`);
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
    if (!inc) throw new NotFoundError(`No incident ${incidentId}: try \`incidents all\` to see the ones Sightline keeps`);
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

  /** The open incident for a target typed by an analyst: `host`, `type:value`, a MAC in any notation, an IP, or an incident id. */
  private findOpen(typed: string): Incident | undefined {
    const raw = typed.trim().replace(/^`|`$/g, '');
    if (raw === '') throw new ValidationError('Say which target to close, e.g. `close desktop-au3ip5k` or `close mac_address:00:0c:29:0f:6f:0a`.');
    const state = this.engine.state();
    const open = (key: string) => {
      const id = state.openByTarget[key];
      const inc = id ? state.incidents[id] : undefined;
      return inc && !this.engine.isClosed(inc.status) ? inc : undefined;
    };
    const prefix = /^([a-z0-9_]+):(.+)$/i.exec(raw);
    if (prefix && TARGET_TYPES.has(prefix[1]!.toLowerCase())) {
      const type = prefix[1]!.toLowerCase();
      return open(`${type}:${normaliseTargetValue(type, prefix[2]!)}`);
    }
    const guessed = guessType(raw);
    const direct = open(`${guessed}:${normaliseTargetValue(guessed, raw)}`);
    if (direct) return direct;
    const byId = this.byId(raw);
    if (byId && !this.engine.isClosed(byId.status)) return byId;
    // No type given and the guess missed (a user name, a GUID…): any open target with that value.
    const values = new Set(['hostname', 'mac_address', 'ip', 'ipv6', 'other'].map((t) => normaliseTargetValue(t, raw)));
    return Object.values(state.incidents).find((i) => !this.engine.isClosed(i.status) && state.openByTarget[i.targetKey] === i.id && values.has(i.targetValue));
  }
}

function guessType(raw: string): string {
  const ip = isIP(raw);
  if (ip === 4) return 'ip';
  if (ip === 6) return 'ipv6';
  if (MAC.test(raw)) return 'mac_address';
  return 'hostname';
}
