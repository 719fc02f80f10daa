import { sql as schema } from './001_schema.js';
import { sql as historyIndexes } from './002_history_indexes.js';
import { sql as delivery } from './003_delivery.js';
import { sql as controlState } from './004_control_state.js';
import { sql as chatClaims } from './005_chat_claims.js';
import { sql as outboxQueues } from './006_outbox_queues.js';
import { sql as incidentCards } from './007_incident_cards.js';
import { sql as queueStorage } from './008_queue_storage.js';
import { sql as appliedSightings } from './009_applied_sightings.js';
import { sql as countingHot } from './010_counting_hot.js';
import { sql as xdrCallAllowance } from './011_xdr_call_allowance.js';
import { sql as outboxParts } from './012_outbox_parts.js';

/**
 * Every migration, in order. A migration is never edited once released (its checksum is
 * recorded); a change to the schema is a new entry here and a new NNN_name.ts file.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'schema', sql: schema },
  { version: 2, name: 'history_indexes', sql: historyIndexes },
  { version: 3, name: 'delivery', sql: delivery },
  { version: 4, name: 'control_state', sql: controlState },
  { version: 5, name: 'chat_claims', sql: chatClaims },
  { version: 6, name: 'outbox_queues', sql: outboxQueues },
  { version: 7, name: 'incident_cards', sql: incidentCards },
  { version: 8, name: 'queue_storage', sql: queueStorage },
  { version: 9, name: 'applied_sightings', sql: appliedSightings },
  { version: 10, name: 'counting_hot', sql: countingHot },
  { version: 11, name: 'xdr_call_allowance', sql: xdrCallAllowance },
  { version: 12, name: 'outbox_parts', sql: outboxParts },
];
