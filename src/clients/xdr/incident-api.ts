import { shortIdOf } from '../../domain/ports/xdr.js';

/**
 * Where incidents live for XDR_INCIDENT_API (xdr-api.md §7). Cisco XDR creates
 * incidents through the IROH Private-Intel API on the visibility host — the path
 * that queues XDR's own enrichment (`enrichment_status`) — while SecureX-era
 * tenants use CTIA directly. Both store the same CTIA entity (long ids under
 * `/ctia/incident/`), so sightings, relationships and casebooks stay on CTIA
 * either way. Only incident create/read/patch/status/search move.
 */
export type IncidentApi = 'private-intel' | 'ctia';

export interface IncidentPaths {
  readonly api: IncidentApi;
  readonly create: string;
  one(id: string): string;
  status(id: string): string;
  readonly search: string;
  /** The lookup of incidents carrying an external id: CTIA has a route, the IROH wrapper only search. */
  byExternalId(externalId: string): string;
}

export function incidentPaths(api: IncidentApi, bases: { irohBase: string; ctiaBase: string }): IncidentPaths {
  const root = api === 'ctia' ? `${bases.ctiaBase}/incident` : `${bases.irohBase}/private-intel/incident`;
  const one = (id: string) => `${root}/${encodeURIComponent(shortIdOf(id))}`;
  return {
    api,
    create: root,
    one,
    status: (id) => `${one(id)}/status`,
    search: `${root}/search`,
    byExternalId:
      api === 'ctia'
        ? (ext) => `${root}/external_id/${encodeURIComponent(ext)}`
        : (ext) => `${root}/search?${new URLSearchParams({ query: `external_ids:"${luceneQuoted(ext)}"`, limit: '100' })}`,
  };
}

/** Escapes a value for use inside a Lucene phrase ("…"). */
export function luceneQuoted(value: string): string {
  return value.replace(/["\\]/g, (c) => `\\${c}`);
}
