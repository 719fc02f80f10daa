import type { CtiaType } from './ctia-validate.js';
import type { Entity } from './ctia-store.js';

/**
 * CTIA list/search semantics (xdr-api.md §5), simplified: field params are exact
 * term filters; `query=` understands `field:value`, `field:prefix*`,
 * `field:"phrase"` and bare terms (case-insensitive substring over the
 * searchable fields), all ANDed; `from`/`to` bound `created`; `sort_by`
 * (`field[:asc|:desc],…`), `sort_order`, `limit`, `offset`, `fields`; paging in
 * `X-Total-Hits` / `X-Next` / `X-Previous` headers.
 */
const RESERVED = new Set(['query', 'simple_query', 'search_fields', 'search_fields[]', 'sort_by', 'sort_order', 'limit', 'offset', 'from', 'to', 'fields', 'fields[]', 'search_after', 'search_after[]', 'wait_for']);

export const SEARCHABLE_FIELDS: Record<CtiaType, string[]> = {
  incident: ['title', 'description', 'short_description', 'source', 'id'],
  sighting: ['title', 'description', 'short_description', 'source', 'id', 'observables.value', 'targets.observables.value'],
  relationship: ['title', 'description', 'short_description', 'source', 'id', 'relationship_type'],
  casebook: ['title', 'description', 'short_description', 'source', 'id', 'observables.value'],
};

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;

export interface Page {
  items: unknown[];
  headers: Record<string, string>;
}

/** Applies every filter of a search request. */
export function searchEntities(entities: Entity[], params: URLSearchParams, type: CtiaType): Entity[] {
  let hits = entities;
  for (const [key, value] of params) {
    if (RESERVED.has(key)) continue;
    hits = hits.filter((e) => valuesAt(e, key).some((v) => String(v) === value));
  }
  const from = params.get('from');
  const to = params.get('to');
  if (from) hits = hits.filter((e) => String(e.created) >= from);
  if (to) hits = hits.filter((e) => String(e.created) < to);
  const query = params.get('query') ?? params.get('simple_query');
  if (query) {
    const fields = [...params.getAll('search_fields'), ...params.getAll('search_fields[]')];
    const terms = parseQuery(query);
    hits = hits.filter((e) => terms.every((t) => termMatches(e, t, fields.length > 0 ? fields : SEARCHABLE_FIELDS[type])));
  }
  return hits;
}

/** Sorts, pages and projects; the paging headers say where the next page starts. */
export function paginate(hits: Entity[], params: URLSearchParams): Page {
  const sorted = sortEntities(hits, params.get('sort_by'), params.get('sort_order'));
  const limit = Math.min(MAX_LIMIT, Math.max(0, toInt(params.get('limit'), DEFAULT_LIMIT)));
  const offset = Math.max(0, toInt(params.get('offset'), 0));
  const page = sorted.slice(offset, offset + limit);
  const headers: Record<string, string> = { 'X-Total-Hits': String(hits.length) };
  if (offset + limit < hits.length) headers['X-Next'] = `limit=${limit}&offset=${offset + limit}`;
  if (offset > 0) headers['X-Previous'] = `limit=${limit}&offset=${Math.max(0, offset - limit)}`;
  const fields = [...params.getAll('fields'), ...params.getAll('fields[]')];
  const items = fields.length === 0 ? page : page.map((e) => Object.fromEntries(fields.filter((f) => f in e).map((f) => [f, e[f]])));
  return { items, headers };
}

interface Term {
  field?: string;
  value: string;
  kind: 'exact' | 'prefix' | 'phrase';
}

function parseQuery(q: string): Term[] {
  const terms: Term[] = [];
  for (const m of q.matchAll(/(?:([\w.]+):)?(?:"([^"]*)"|(\S+))/g)) {
    const [, field, phrase, word] = m;
    if (phrase !== undefined) terms.push({ field, value: phrase, kind: 'phrase' });
    else if (word && !['AND', '&&'].includes(word)) {
      terms.push(word.endsWith('*') ? { field, value: word.slice(0, -1), kind: 'prefix' } : { field, value: word, kind: 'exact' });
    }
  }
  return terms;
}

function termMatches(e: Entity, t: Term, defaultFields: string[]): boolean {
  const needle = t.value.toLowerCase();
  const values = (t.field ? [t.field] : defaultFields).flatMap((f) => valuesAt(e, f)).map((v) => String(v).toLowerCase());
  if (t.kind === 'prefix') return values.some((v) => v.startsWith(needle));
  if (t.field && t.kind === 'exact') return values.some((v) => v === needle || v.split(/[^a-z0-9]+/).includes(needle));
  return values.some((v) => v.includes(needle));
}

/** Values at a dotted path, flattening arrays on the way (`targets.observables.value`). */
export function valuesAt(obj: unknown, path: string): unknown[] {
  let current: unknown[] = [obj];
  for (const key of path.split('.')) {
    current = current.flatMap((c) => {
      const v = c !== null && typeof c === 'object' && !Array.isArray(c) ? (c as Record<string, unknown>)[key] : undefined;
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    });
  }
  return current;
}

function sortEntities(hits: Entity[], sortBy: string | null, sortOrder: string | null): Entity[] {
  if (!sortBy) return hits;
  const keys = sortBy.split(',').map((s) => {
    const [field = '', dir] = s.split(':');
    return { field, desc: (dir ?? sortOrder ?? 'asc').toLowerCase() === 'desc' };
  });
  return [...hits].sort((a, b) => {
    for (const { field, desc } of keys) {
      const [va, vb] = [valuesAt(a, field)[0], valuesAt(b, field)[0]];
      // Missing values sort last in either direction, as in Elasticsearch.
      if (va === undefined || vb === undefined) {
        if (va !== vb) return va === undefined ? 1 : -1;
        continue;
      }
      const c = compare(va, vb);
      if (c !== 0) return desc ? -c : c;
    }
    return 0;
  });
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

function toInt(v: string | null, dflt: number): number {
  const n = v === null ? NaN : Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : dflt;
}
