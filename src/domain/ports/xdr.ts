import type { ModuleError, ModuleSighting, Observable, Verdict } from '../types.js';

/**
 * What Sightline needs from Cisco XDR. The hunt and the correlator depend on
 * this interface only; `XdrHttpClient` implements it over undici.
 */
export interface DeliberateResult {
  verdicts: Verdict[];
  errors: ModuleError[];
  /** Calls made (after batching), for the report and benchmarks. */
  calls: number;
}

export interface ObserveResult {
  sightings: ModuleSighting[];
  errors: ModuleError[];
  calls: number;
}

export interface CtiaEntity {
  /** Long id: https://…/ctia/<type>/<type>-<uuid> */
  id: string;
  [k: string]: unknown;
}

export interface ResponseAction {
  id: string;
  title: string;
  module: string;
  moduleInstanceId: string;
  /** The observable XDR offered it for (from the action's trigger `url` query), when it said so. */
  observable?: Observable;
}

/** A module's pivot link for an observable (IROH refer, xdr-api.md §3.4). */
export interface ReferLink {
  module: string;
  title: string;
  description?: string;
  url: string;
}

export interface XdrPort {
  /** Verdicts for any number of observables; batched and run with bounded concurrency. */
  deliberate(observables: Observable[], signal?: AbortSignal): Promise<DeliberateResult>;
  /** Sightings for any number of observables; batched and run with bounded concurrency. */
  observe(observables: Observable[], signal?: AbortSignal): Promise<ObserveResult>;
  /** IROH inspect: free text → observables. */
  inspect(content: string): Promise<Observable[]>;

  createCasebook(casebook: { title: string; description: string; observables: Observable[]; external_ids?: string[]; texts?: { type: string; text: string }[] }): Promise<CtiaEntity>;
  findCasebookByExternalId(externalId: string): Promise<CtiaEntity | undefined>;

  createSighting(sighting: Record<string, unknown>): Promise<CtiaEntity>;
  /** Incidents go through XDR_INCIDENT_API (IROH private-intel or CTIA); both hand back the CTIA entity. */
  createIncident(incident: Record<string, unknown>): Promise<CtiaEntity>;
  patchIncident(shortId: string, patch: Record<string, unknown>): Promise<CtiaEntity>;
  setIncidentStatus(shortId: string, status: string): Promise<CtiaEntity>;
  getIncident(shortId: string): Promise<CtiaEntity | undefined>;
  findIncidentsByExternalId(externalId: string): Promise<CtiaEntity[]>;
  /**
   * Status by short id of the incidents `source` created since `createdFrom` (ISO time), read with
   * paged searches. May stop short of the last page (a bound on calls): callers read what is
   * missing on its own. Optional so test fakes can omit it.
   */
  incidentStatusesSince?(source: string, createdFrom: string): Promise<Map<string, string>>;
  createRelationship(rel: { source_ref: string; target_ref: string; relationship_type: string; tlp?: string; source?: string; external_ids?: string[] }): Promise<CtiaEntity>;
  findRelationshipsByExternalId?(externalId: string): Promise<CtiaEntity[]>;
  findSightingsByExternalId?(externalId: string): Promise<CtiaEntity[]>;

  listResponseActions(observables: Observable[]): Promise<ResponseAction[]>;
  /** IROH refer: the modules' links for these observables; batched like deliberate. Optional so test fakes can omit it. */
  refer?(observables: Observable[], signal?: AbortSignal): Promise<{ links: ReferLink[]; calls: number }>;
  triggerResponseAction(action: ResponseAction, observable: Observable): Promise<{ status: string }>;

  /** Total HTTP attempts made (benchmarks). */
  readonly callCount: number;
}

/** `incident-<uuid>` from a long id `https://…/ctia/incident/incident-<uuid>`. */
export function shortIdOf(longId: string): string {
  const last = longId.split('/').pop() ?? longId;
  return last;
}
