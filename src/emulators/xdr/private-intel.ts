import { json, route, type Reply, type Route } from './http-kit.js';
import { paginate, searchEntities } from './ctia-search.js';
import type { CtiaStore, Entity } from './ctia-store.js';
import { INCIDENT_STATUSES, validateNew, validationErrorBody } from './ctia-validate.js';

/**
 * The IROH Private-Intel incident wrapper on the visibility host (xdr-api.md §7):
 * `POST /iroh/private-intel/incident`, `GET|PATCH …/incident/{id}`,
 * `POST …/incident/{id}/status`, `GET …/incident/search` (+ `/count`). It writes the
 * same CTIA store as `/ctia/incident` — XDR keeps incidents in CTIA — with the
 * same validation, and adds what XDR adds: `enrichment_status` (`queued` on
 * create, `enriched` once XDR has looked; incidents made through CTIA are never
 * enriched) and the `high_impact` search filter. Ids may be the short id, the
 * bare GUID or the full CTIA URL, as XDR's guide says.
 */
const BASE = '^/iroh/private-intel/incident';
const ID = '([^/]+)';
/** Fields the server owns: a client cannot set them on create or patch. */
const SERVER_OWNED = ['enrichment_status'];

const notFound = (): Reply => json(404, { error: 'Not Found' });
const invalid = (problems: Record<string, string>): Reply => json(400, validationErrorBody(problems));

export function privateIntelRoutes(store: CtiaStore): Route[] {
  const read = (e: Entity | undefined): Entity | undefined => (e ? enriched(store, e) : undefined);
  return [
    route('GET', new RegExp(`${BASE}/search/count$`), ({ url }) => json(200, search(store, url.searchParams).length)),
    route('GET', new RegExp(`${BASE}/search$`), ({ url }) => {
      const page = paginate(search(store, url.searchParams).map((e) => enriched(store, e)), url.searchParams);
      return json(200, page.items, page.headers);
    }),
    route('POST', new RegExp(`${BASE}$`), ({ body }) => {
      const problems = validateNew('incident', body);
      if (problems) return invalid(problems);
      const created = store.create('incident', { ...withoutServerOwned(body as Record<string, unknown>), enrichment_status: 'queued' });
      return json(201, created, { Location: created.id });
    }),
    route('GET', new RegExp(`${BASE}/${ID}$`), ({ params: [id] }) => found(read(store.get('incident', shortIdFrom(id!))))),
    route('PATCH', new RegExp(`${BASE}/${ID}$`), ({ params: [id], body }) => {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid({ body: '(not (map? body))' });
      const shortId = shortIdFrom(id!);
      const candidate = store.patched('incident', shortId, withoutServerOwned(body as Record<string, unknown>));
      if (!candidate) return notFound();
      const problems = validateNew('incident', candidate);
      if (problems) return invalid(problems);
      store.put('incident', candidate);
      return json(200, candidate);
    }),
    route('POST', new RegExp(`${BASE}/${ID}/status$`), ({ params: [id], body }) => {
      const status = (body as { status?: unknown } | undefined)?.status;
      if (status === undefined) return invalid({ status: 'missing-required-key' });
      if (typeof status !== 'string' || !INCIDENT_STATUSES.includes(status)) return invalid({ status: `(not (status? ${JSON.stringify(status)}))` });
      return found(store.setIncidentStatus(shortIdFrom(id!), status));
    }),
  ];
}

function search(store: CtiaStore, params: URLSearchParams): Entity[] {
  const rest = new URLSearchParams(params);
  const highImpact = rest.get('high_impact');
  rest.delete('high_impact');
  const hits = searchEntities(store.all('incident'), rest, 'incident');
  // XDR's `high_impact` flag; the emulator reads it as severity High or Critical.
  return highImpact === 'true' ? hits.filter((e) => e.severity === 'High' || e.severity === 'Critical') : hits;
}

/** XDR enriches an incident shortly after it is created through this API; by the next read it is done. */
function enriched(store: CtiaStore, e: Entity): Entity {
  if (e.enrichment_status !== 'queued' && e.enrichment_status !== 'enriching') return e;
  const done: Entity = { ...e, enrichment_status: 'enriched' };
  store.put('incident', done);
  return done;
}

/** `incident-<uuid>` from a short id, a bare GUID or a full CTIA URL. */
export function shortIdFrom(id: string): string {
  const last = id.split('/').pop() ?? id;
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(last) ? `incident-${last}` : last;
}

function withoutServerOwned(body: Record<string, unknown>): Record<string, unknown> {
  const out = { ...body };
  for (const k of SERVER_OWNED) delete out[k];
  return out;
}

function found(e: Entity | undefined): Reply {
  return e ? json(200, e) : notFound();
}
