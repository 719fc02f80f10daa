import type { CorrelationEngine } from '../domain/correlation/engine.js';
import type { TargetView } from '../domain/investigate/report.js';
import type { PostgresIncidentReads } from '../store/postgres/incident-reads.js';
import type { SharedCorrelation } from './shared-correlation.js';

/**
 * The open Sightline incident of a target key (`hostname:desktop-au3ip5k`), as
 * the investigation card shows it. Target keys are the correlator's own
 * (targetIdentity), so a host the hunt or an investigation sights and the host a
 * sighting webhook reported are the same key.
 */
export function openIncidentLookup(engine: Pick<CorrelationEngine, 'state' | 'isClosed' | 'view'>): (targetKey: string) => TargetView['incident'] {
  return (targetKey) => {
    const state = engine.state();
    const id = state.openByTarget[targetKey];
    const incident = id ? state.incidents[id] : undefined;
    if (!incident || engine.isClosed(incident.status)) return undefined;
    const view = engine.view(incident);
    return { id: view.id, count: view.count, ...(view.url ? { url: view.url } : {}) };
  };
}

/**
 * The same on PostgreSQL: the open incident of a target key, read from the database (any
 * instance may have opened it). The investigator awaits it.
 */
export function pgOpenIncidentLookup(
  reads: Pick<PostgresIncidentReads, 'openIncidentByKey'>,
  correlation: Pick<SharedCorrelation, 'isClosed' | 'view'>,
): (targetKey: string) => Promise<TargetView['incident']> {
  return async (targetKey) => {
    const incident = await reads.openIncidentByKey(targetKey);
    if (!incident || correlation.isClosed(incident.status)) return undefined;
    const view = correlation.view(incident);
    return { id: view.id, count: view.count, ...(view.url ? { url: view.url } : {}) };
  };
}
