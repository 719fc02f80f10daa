import { randomUUID } from 'node:crypto';
import { CTIA_TYPES, isClosedStatus, type CtiaType } from './ctia-validate.js';

/**
 * In-memory CTIA entity store. Stored entities get what CTIA adds on write
 * (xdr-api.md §4.1): long `id`, `type`, its own `schema_version` (any sent value
 * is dropped), `owner`, `groups`, `client_id`, `created`, `modified`, default tlp.
 */
export type Entity = Record<string, unknown> & { id: string; type: string };

export const SCHEMA_VERSION = '1.3.30';
const SERVER_FIELDS = ['id', 'type', 'schema_version', 'owner', 'groups', 'client_id', 'created', 'modified'];

export class CtiaStore {
  private readonly maps = new Map<CtiaType, Map<string, Entity>>(CTIA_TYPES.map((t) => [t, new Map()]));

  constructor(
    private readonly baseUrl: () => string,
    private readonly now: () => Date,
    private readonly clientId: () => string,
  ) {}

  all(type: CtiaType): Entity[] {
    return [...this.map(type).values()];
  }

  get(type: CtiaType, shortId: string): Entity | undefined {
    return this.map(type).get(shortId);
  }

  create(type: CtiaType, body: Record<string, unknown>): Entity {
    const shortId = `${type}-${randomUUID()}`;
    const t = this.now().toISOString();
    const entity: Entity = {
      ...stripServerFields(body),
      ...defaultsFor(type, body),
      id: `${this.baseUrl()}/ctia/${type}/${shortId}`,
      type,
      schema_version: SCHEMA_VERSION,
      owner: this.clientId(),
      groups: ['sightline-emulator-org'],
      client_id: this.clientId(),
      created: t,
      modified: t,
    };
    this.map(type).set(shortId, entity);
    return entity;
  }

  /** PUT: the new body replaces everything but the server fields. */
  replace(type: CtiaType, shortId: string, body: Record<string, unknown>): Entity | undefined {
    const old = this.get(type, shortId);
    if (!old) return undefined;
    const keep = Object.fromEntries(SERVER_FIELDS.map((k) => [k, old[k]]));
    const entity = { ...stripServerFields(body), ...defaultsFor(type, body), ...keep, modified: this.now().toISOString() } as unknown as Entity;
    this.map(type).set(shortId, entity);
    return entity;
  }

  /** PATCH: nested objects merge, arrays and scalars replace. Returns the merged candidate without storing it. */
  patched(type: CtiaType, shortId: string, patch: Record<string, unknown>): Entity | undefined {
    const old = this.get(type, shortId);
    if (!old) return undefined;
    return { ...deepMerge(old, stripServerFields(patch)), modified: this.now().toISOString() } as unknown as Entity;
  }

  put(type: CtiaType, entity: Entity): void {
    this.map(type).set(shortIdOf(entity.id), entity);
  }

  delete(type: CtiaType, shortId: string): boolean {
    return this.map(type).delete(shortId);
  }

  /**
   * CTIA's status update logic (entity/incident.clj): stamps `incident_time`
   * opened for Open*, closed for Closed* (the first close is kept on
   * closed → closed), contained, rejected, remediated, reported.
   */
  setIncidentStatus(shortId: string, status: string): Entity | undefined {
    const old = this.get('incident', shortId);
    if (!old) return undefined;
    const at = this.now().toISOString();
    const time = { ...(old.incident_time as Record<string, string> | undefined) };
    if (/^Open(: .+)?$/.test(status)) time.opened = at;
    if (isClosedStatus(status) && !(isClosedStatus(old.status) && time.closed)) time.closed = at;
    if (status === 'Open: Contained') time.contained = at;
    if (status === 'Rejected') time.rejected = at;
    if (status === 'Containment Achieved' || status === 'Restoration Achieved') time.remediated = at;
    if (status === 'Incident Reported') time.reported = at;
    const updated: Entity = { ...old, status, incident_time: time, modified: at };
    this.put('incident', updated);
    return updated;
  }

  clear(): void {
    for (const m of this.maps.values()) m.clear();
  }

  private map(type: CtiaType): Map<string, Entity> {
    return this.maps.get(type)!;
  }
}

export function shortIdOf(longId: string): string {
  return longId.split('/').pop() ?? longId;
}

function stripServerFields(body: Record<string, unknown>): Record<string, unknown> {
  const out = { ...body };
  for (const k of SERVER_FIELDS) delete out[k];
  return out;
}

/** CTIA's realize step: default tlp, and sighting count/confidence (entity/sighting/schemas.clj). */
function defaultsFor(type: CtiaType, body: Record<string, unknown>): Record<string, unknown> {
  const d: Record<string, unknown> = { tlp: body.tlp ?? 'green' };
  if (type === 'sighting') {
    d.count = body.count ?? 1;
    d.confidence = body.confidence ?? 'Unknown';
  }
  return d;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isPlain(prev) && isPlain(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
