import { z } from 'zod';

/**
 * The correlation section of the state file as the code relies on it (types.ts), checked
 * at start-up (src/store/state-schema.ts). Objects are loose: a field added by a newer
 * version is kept, a field the code reads with the wrong type stops start-up.
 */
const count = z.number().int().min(0);
const observable = z.looseObject({ type: z.string(), value: z.string() });
const sightingRecord = z.looseObject({ seq: z.number(), observedAt: z.string(), ioc: observable, source: z.string() });
const opBase = { id: z.number(), attempts: z.number(), lastError: z.string().optional() };
const xdrOp = z.discriminatedUnion('kind', [
  z.looseObject({ ...opBase, kind: z.literal('create_incident') }),
  z.looseObject({ ...opBase, kind: z.literal('sighting'), seq: z.number(), ctim: z.record(z.string(), z.unknown()), xdrSightingId: z.string().optional() }),
  z.looseObject({ ...opBase, kind: z.literal('patch') }),
  z.looseObject({ ...opBase, kind: z.literal('relate_previous'), previousIncidentId: z.string() }),
  z.looseObject({ ...opBase, kind: z.literal('status'), status: z.string() }),
]);
const deadLetter = z.looseObject({ opId: z.number(), kind: z.string(), reason: z.string(), attempts: z.number(), at: z.string(), seq: z.number().optional() });

const incident = z.looseObject({
  id: z.string(),
  ordinal: z.number(),
  xdrId: z.string().optional(),
  targetKey: z.string(),
  targetType: z.string(),
  targetValue: z.string(),
  status: z.string(),
  count,
  revision: z.number(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  openedAt: z.string(),
  closedAt: z.string().optional(),
  closedBy: z.string().optional(),
  closeReason: z.string().optional(),
  initial: sightingRecord,
  recentSightings: z.array(sightingRecord),
  lastIoc: observable,
  lastSource: z.string(),
  iocs: z.array(z.looseObject({ type: z.string(), value: z.string(), count: z.number(), lastSeen: z.string() })),
  iocsTotal: z.number(),
  sources: z.record(z.string(), z.number()),
  previousIncidentId: z.string().optional(),
  rungsFired: z.array(
    z.looseObject({ rung: z.string(), count: z.number(), at: z.string(), actions: z.array(z.string()), dryRun: z.boolean(), outcome: z.string().optional() }),
  ),
  cardMessageId: z.string().optional(),
  xdrSync: z.looseObject({
    pending: z.array(xdrOp),
    dropped: z.number(),
    deadLetters: z.array(deadLetter).optional(),
    unmirrored: z.number().optional(),
    lastError: z.string().optional(),
    lastSyncedAt: z.string().optional(),
  }),
});

/** One incident, for checking a large state incident by incident (src/store/state-schema.ts). */
export const incidentSchema = incident;

export const correlationStateSchema = z.looseObject({
  incidents: z.record(z.string(), incident),
  openByTarget: z.record(z.string(), z.string()),
  latestByTarget: z.record(z.string(), z.string()),
  lastAppliedSeq: count,
  nextOrdinal: count,
  nextOpId: count,
});
