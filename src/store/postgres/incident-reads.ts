import type pg from 'pg';
import { ValidationError } from '../../core/errors.js';
import type { Incident } from '../../domain/correlation/types.js';
import { targetIdentity } from '../../domain/investigate/target-identity.js';
import type { SightingTarget } from '../../domain/types.js';
import { INCIDENT_COLUMNS, incidentOf, loadRecentSightings, loadRungs, type IncidentRow } from './incident-rows.js';
import { poolError } from './pool.js';

/**
 * Incidents read from PostgreSQL, for chat commands on any instance (`incidents open|closed|all`,
 * `incident <id>`): the domain's `Incident` shape, so describe.ts / toIncidentView render them.
 * Paging is newest first over the paging indexes (incidents_open_page, incidents_closed_page,
 * the ordinal), by keyset (`after`: stable while incidents open and close between pages) or by
 * page number (what a person types). Each incident comes with its rungs and its newest
 * sightings; `xdrSync.pending` is empty: the XDR ops waiting are the mirror's business.
 */
export interface PageRequest {
  /** Incidents per page (1..500, default 20). */
  limit?: number;
  /** The `next` of the previous page (keyset: stable while incidents come and go). */
  after?: string;
  /** 1-based page number instead of `after` (what a chat command says: "page 3"). */
  page?: number;
}

export interface IncidentPage {
  items: Incident[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}

const MAX_PAGE = 500;

export class PostgresIncidentReads {
  constructor(protected readonly pool: pg.Pool) {}

  /** One incident by its local id. */
  async incident(id: string): Promise<Incident | undefined> {
    return (await this.select('WHERE id = $1', [id], 'reading an incident'))[0];
  }

  /** Several incidents by local id, in one read (unknown ids are left out). */
  async incidents(ids: string[]): Promise<Incident[]> {
    if (ids.length === 0) return [];
    return this.select('WHERE id = ANY($1::text[])', [ids], 'reading incidents');
  }

  /**
   * As `incidents`, without their newest sightings (`recentSightings` empty): what a notification's
   * view (toIncidentView) shows. The apply loop's coalesced updates read every counted incident
   * every CORRELATION_COALESCE_MS; the 50 sightings each were most of that read (186,000 rows in a
   * 20 s two-instance bench run) for a view that never shows them.
   */
  async incidentsForViews(ids: string[]): Promise<Incident[]> {
    if (ids.length === 0) return [];
    return (await this.selectRows('WHERE id = ANY($1::text[])', [ids], 'reading incidents', '', { recent: false })).map((r) => r.incident);
  }

  /** The target's open incident, else its latest (the one an analyst means by "the incident of ws-042"). A string is a target key. */
  async incidentByTarget(target: string | Pick<SightingTarget, 'observables' | 'type'>): Promise<Incident | undefined> {
    const key = typeof target === 'string' ? target : targetIdentity(target).key;
    const rows = await this.select('WHERE target_key = $1 ORDER BY (closed_at IS NULL) DESC, ordinal DESC LIMIT 1', [key], 'reading an incident');
    return rows[0];
  }

  /** Open incidents, most recently seen first. */
  openIncidents(page: PageRequest = {}): Promise<IncidentPage> {
    return this.page(page, { where: 'closed_at IS NULL', time: 'last_seen' });
  }

  /** Closed incidents, most recently closed first (all of them, until retention). */
  closedIncidents(page: PageRequest = {}): Promise<IncidentPage> {
    return this.page(page, { where: 'closed_at IS NOT NULL', time: 'closed_at' });
  }

  /** Every incident, newest opened first. */
  allIncidents(page: PageRequest = {}): Promise<IncidentPage> {
    return this.page(page, { where: 'true' });
  }

  /** An incident by local id, XDR long id or XDR short id (the last part of the long id), as an analyst or a card gives it. */
  async incidentByAnyId(id: string): Promise<Incident | undefined> {
    const wanted = id.trim();
    if (wanted === '') return undefined;
    const exact = await this.select('WHERE id = $1 OR xdr_id = $1 ORDER BY (id = $1) DESC LIMIT 1', [wanted], 'reading an incident');
    if (exact[0]) return exact[0];
    // A short id: no index on it; only reached when the id is neither local nor a long id.
    return (await this.select(`WHERE xdr_id LIKE '%/' || $1 ORDER BY ordinal DESC LIMIT 1`, [wanted.replace(/[\\%_]/g, (c) => `\\${c}`)], 'reading an incident'))[0];
  }

  /** The open incident of a target key. */
  async openIncidentByKey(key: string): Promise<Incident | undefined> {
    return (await this.select('WHERE target_key = $1 AND closed_at IS NULL', [key], 'reading an incident'))[0];
  }

  /** An open incident whose target value is one of these (a target typed without its type), most recently seen first. */
  async openIncidentByValue(values: string[]): Promise<Incident | undefined> {
    return (await this.select('WHERE closed_at IS NULL AND target_value = ANY($1::text[]) ORDER BY last_seen DESC, ordinal DESC LIMIT 1', [values], 'reading an incident'))[0];
  }

  /** How many incidents are open, closed or both (all history until retention): the total of a paged list. */
  async countIncidents(filter: 'open' | 'closed' | 'all'): Promise<number> {
    const where = filter === 'open' ? 'WHERE closed_at IS NULL' : filter === 'closed' ? 'WHERE closed_at IS NOT NULL' : '';
    try {
      const { rows } = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM incidents ${where}`);
      return Number(rows[0]!.n);
    } catch (err) {
      throw poolError(this.pool, err, 'counting incidents');
    }
  }

  /** An incident's sightings, newest observed first (all kept ones, not only the newest 50). */
  async incidentSightings(id: string, limit: number): Promise<Array<{ seq: number; observedAt: string; ioc: { type: string; value: string }; source: string }>> {
    try {
      const { rows } = await this.pool.query<{ seq: string; observed_at: Date; ioc_type: string; ioc_value: string; source: string }>(
        `SELECT seq, observed_at, ioc_type, ioc_value, source FROM incident_sightings WHERE incident_id = $1 ORDER BY observed_at DESC, seq DESC LIMIT $2`,
        [id, Math.max(0, Math.trunc(limit))],
      );
      return rows.map((r) => ({ seq: Number(r.seq), observedAt: r.observed_at.toISOString(), ioc: { type: r.ioc_type, value: r.ioc_value }, source: r.source }));
    } catch (err) {
      throw poolError(this.pool, err, "reading an incident's sightings");
    }
  }

  /**
   * Newest first over (time, ordinal) — the order of the paging indexes — or over ordinal alone.
   * The keyset cursor carries the time as PostgreSQL printed it, so no precision is lost.
   */
  private async page(req: PageRequest, order: { where: string; time?: 'last_seen' | 'closed_at' }): Promise<IncidentPage> {
    const limit = Math.min(Math.max(Math.trunc(req.limit ?? 20), 1), MAX_PAGE);
    const params: unknown[] = [];
    const conds = [order.where];
    if (req.after) {
      const cursor = parseCursor(req.after);
      if (order.time) {
        if (cursor.time === undefined) throw badCursor();
        params.push(cursor.time, cursor.ordinal);
        conds.push(`(${order.time}, ordinal) < ($${params.length - 1}::timestamptz, $${params.length}::bigint)`);
      } else {
        params.push(cursor.ordinal);
        conds.push(`ordinal < $${params.length}::bigint`);
      }
    }
    const sort = order.time ? `${order.time} DESC, ordinal DESC` : 'ordinal DESC';
    params.push(limit + 1);
    let sql = `WHERE ${conds.join(' AND ')} ORDER BY ${sort} LIMIT $${params.length}`;
    if (!req.after && req.page && req.page > 1) {
      params.push((Math.trunc(req.page) - 1) * limit);
      sql += ` OFFSET $${params.length}`;
    }
    const timeCol = order.time ? `, ${order.time}::text AS page_time` : '';
    const rows = await this.selectRows(sql, params, 'paging incidents', timeCol);
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    const result: IncidentPage = { items: items.map((r) => r.incident) };
    if (rows.length > limit && last) result.next = formatCursor(last.incident.ordinal, last.pageTime);
    return result;
  }

  private async select(clause: string, params: unknown[], doing: string): Promise<Incident[]> {
    return (await this.selectRows(clause, params, doing)).map((r) => r.incident);
  }

  /** Incidents with their rungs (XDR ops are the mirror's: `xdrSync.pending` is empty in reads). */
  private async selectRows(
    clause: string,
    params: unknown[],
    doing: string,
    extra = '',
    opts: { recent?: boolean } = {},
  ): Promise<Array<{ incident: Incident; pageTime?: string }>> {
    try {
      const { rows } = await this.pool.query<IncidentRow & { page_time?: string }>(`SELECT ${INCIDENT_COLUMNS}${extra} FROM incidents ${clause}`, params);
      const [rungs, recent] = await Promise.all([
        loadRungs(this.pool, rows.map((r) => r.id)),
        opts.recent === false ? new Map<string, never[]>() : loadRecentSightings(this.pool, rows.map((r) => ({ id: r.id, initial: r.summary.initial }))),
      ]);
      return rows.map((r) => ({
        incident: incidentOf(r, rungs.get(r.id) ?? [], [], recent.get(r.id) ?? []),
        ...(r.page_time === undefined ? {} : { pageTime: r.page_time }),
      }));
    } catch (err) {
      throw poolError(this.pool, err, doing);
    }
  }
}

function formatCursor(ordinal: number, time: string | undefined): string {
  return Buffer.from(JSON.stringify(time === undefined ? { o: ordinal } : { o: ordinal, t: time })).toString('base64url');
}

function parseCursor(raw: string): { ordinal: number; time?: string } {
  try {
    const v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { o?: unknown; t?: unknown };
    if (typeof v.o !== 'number' || !Number.isInteger(v.o)) throw badCursor();
    return typeof v.t === 'string' ? { ordinal: v.o, time: v.t } : { ordinal: v.o };
  } catch {
    throw badCursor();
  }
}

function badCursor(): ValidationError {
  return new ValidationError('That page marker is not one this list handed out; start again from the first page.');
}
