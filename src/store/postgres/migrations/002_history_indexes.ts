/**
 * Migration 2: indexes that keep deleting old history cheap. Retention deletes closed incidents
 * in batches; each delete makes PostgreSQL find what references the incident. Without these,
 * `previous_incident_id` (ON DELETE SET NULL) and the XDR dead letters were found by scanning
 * the whole table once per deleted incident: 1,000 deletes over 100,000 incidents took 26 s.
 * NEVER edit after release; add migration 3 instead.
 */
export const sql = `
CREATE INDEX incidents_previous ON incidents (previous_incident_id) WHERE previous_incident_id IS NOT NULL;
CREATE INDEX xdr_dead_letters_by_incident ON xdr_dead_letters (incident_id);
`;
