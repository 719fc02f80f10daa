import { json, route, type Reply, type Route } from './http-kit.js';
import { paginate, searchEntities } from './ctia-search.js';
import type { CtiaStore, Entity } from './ctia-store.js';
import { INCIDENT_STATUSES, LONG_ID, TLPS, validateNew, validationErrorBody, type CtiaType } from './ctia-validate.js';

/**
 * CTIA private-intel routes for incident, sighting, relationship and casebook
 * (xdr-api.md §5): CRUD, external_id lookup, search (+count), incident status
 * and link, casebook observables. Paths take short ids (`incident-<uuid>`).
 */
const E = '(incident|sighting|relationship|casebook)';
const ID = '([^/]+)';
const PATCHABLE = new Set<CtiaType>(['incident', 'casebook']);

const notFound = (): Reply => json(404, { error: 'Not Found' });
const invalid = (problems: Record<string, string>): Reply => json(400, validationErrorBody(problems));

export function ctiaRoutes(store: CtiaStore): Route[] {
  const entityRoute = (method: string, suffix: string, h: (type: CtiaType, params: string[], body: unknown, url: URL) => Reply) =>
    route(method, new RegExp(`^/ctia/${E}${suffix}$`), ({ params, body, url }) => h(params[0] as CtiaType, params.slice(1), body, url));

  return [
    entityRoute('GET', '/search/count', (type, _p, _b, url) => json(200, searchEntities(store.all(type), url.searchParams, type).length)),
    entityRoute('GET', '/search', (type, _p, _b, url) => {
      const page = paginate(searchEntities(store.all(type), url.searchParams, type), url.searchParams);
      return json(200, page.items, page.headers);
    }),
    entityRoute('GET', `/external_id/${ID}`, (type, [ext], _b, url) => {
      const page = paginate(store.all(type).filter((e) => (e.external_ids as unknown[] | undefined)?.includes(ext)), url.searchParams);
      return json(200, page.items, page.headers);
    }),
    entityRoute('POST', '', (type, _p, body) => {
      const problems = validateNew(type, body);
      if (problems) return invalid(problems);
      const created = store.create(type, body as Record<string, unknown>);
      return json(201, created, { Location: created.id });
    }),
    entityRoute('GET', `/${ID}`, (type, [id]) => found(store.get(type, id!))),
    entityRoute('PUT', `/${ID}`, (type, [id], body) => {
      if (!store.get(type, id!)) return notFound();
      const problems = validateNew(type, body);
      return problems ? invalid(problems) : found(store.replace(type, id!, body as Record<string, unknown>));
    }),
    entityRoute('PATCH', `/${ID}`, (type, [id], body) => {
      if (!PATCHABLE.has(type)) return json(405, { error: `PATCH is not supported for ${type}` });
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid({ body: '(not (map? body))' });
      const candidate = store.patched(type, id!, body as Record<string, unknown>);
      if (!candidate) return notFound();
      const problems = validateNew(type, candidate);
      if (problems) return invalid(problems);
      store.put(type, candidate);
      return json(200, candidate);
    }),
    entityRoute('DELETE', `/${ID}`, (type, [id]) => (store.delete(type, id!) ? json(204) : notFound())),
    route('POST', new RegExp(`^/ctia/incident/${ID}/status$`), ({ params: [id], body }) => {
      const status = (body as { status?: unknown } | undefined)?.status;
      if (status === undefined) return invalid({ status: 'missing-required-key' });
      if (typeof status !== 'string' || !INCIDENT_STATUSES.includes(status)) return invalid({ status: `(not (status? ${JSON.stringify(status)}))` });
      return found(store.setIncidentStatus(id!, status));
    }),
    route('POST', new RegExp(`^/ctia/incident/${ID}/link$`), ({ params: [id], body }) => link(store, id!, body)),
    route('POST', new RegExp(`^/ctia/casebook/${ID}/observables$`), ({ params: [id], body }) => casebookObservables(store, id!, body)),
  ];
}

function found(e: Entity | undefined): Reply {
  return e ? json(200, e) : notFound();
}

/** `POST /ctia/incident/{id}/link`: casebook (or investigation) `related-to` incident, tlp amber by default. */
function link(store: CtiaStore, incidentId: string, body: unknown): Reply {
  const incident = store.get('incident', incidentId);
  if (!incident) return notFound();
  const b = (body ?? {}) as { casebook_id?: unknown; investigation_id?: unknown; tlp?: unknown };
  const refs = [b.casebook_id, b.investigation_id].filter((r) => r !== undefined);
  if (refs.length !== 1) return invalid({ body: 'exactly one of casebook_id or investigation_id is required' });
  const source = refs[0];
  if (typeof source !== 'string' || !LONG_ID.test(source)) return invalid({ casebook_id: `(not (long-id? ${JSON.stringify(source)}))` });
  if (b.tlp !== undefined && !TLPS.includes(String(b.tlp))) return invalid({ tlp: '(not (tlp? tlp))' });
  const rel = store.create('relationship', {
    relationship_type: 'related-to',
    source_ref: source,
    target_ref: incident.id,
    tlp: b.tlp ?? 'amber',
  });
  return json(201, rel, { Location: rel.id });
}

/** `POST /ctia/casebook/{id}/observables` with `{operation: add|remove|replace, observables}`. */
function casebookObservables(store: CtiaStore, id: string, body: unknown): Reply {
  const casebook = store.get('casebook', id);
  if (!casebook) return notFound();
  const b = (body ?? {}) as { operation?: unknown; observables?: unknown };
  if (!['add', 'remove', 'replace'].includes(String(b.operation))) return invalid({ operation: '(not (#{"add" "remove" "replace"} operation))' });
  const problems = validateNew('casebook', { observables: b.observables });
  if (problems || !Array.isArray(b.observables)) return invalid(problems ?? { observables: 'missing-required-key' });
  const incoming = b.observables as { type: string; value: string }[];
  const key = (o: { type: string; value: string }) => `${o.type}|${o.value}`;
  const current = (casebook.observables as { type: string; value: string }[] | undefined) ?? [];
  const next =
    b.operation === 'replace'
      ? incoming
      : b.operation === 'add'
        ? [...current, ...incoming.filter((o) => !current.some((c) => key(c) === key(o)))]
        : current.filter((c) => !incoming.some((o) => key(o) === key(c)));
  const updated = store.patched('casebook', id, { observables: next })!;
  store.put('casebook', updated);
  return json(200, updated);
}
