import type { CorrelationState, Incident, XdrDeadLetter, XdrOp } from './types.js';

/**
 * Ops XDR refused for good (issue 17 item 12). The mirror gives up on them so one bad op
 * cannot block an incident forever, but keeps each one, with XDR's reason, in the incident's
 * sync state: the log says it once, `hunt status` keeps saying it until someone looks.
 */

/** Dead letters kept per incident (the count in `xdrSync.dropped` is never bounded). */
export const MAX_DEAD_LETTERS = 20;

export function keepDeadLetter(incident: Incident, op: XdrOp, reason: string, at: string): void {
  const letter: XdrDeadLetter = { opId: op.id, kind: op.kind, reason: reason.slice(0, 500), attempts: op.attempts, at };
  if (op.kind === 'sighting') letter.seq = op.seq;
  const kept = [...(incident.xdrSync.deadLetters ?? []), letter];
  incident.xdrSync.deadLetters = kept.slice(-MAX_DEAD_LETTERS);
}

export interface DeadLetterSummary {
  /** Every op given up on, across incidents still kept. */
  total: number;
  /** The newest few, newest first. */
  latest: (XdrDeadLetter & { incidentId: string; target: string })[];
}

export function deadLetterSummary(state: CorrelationState, show = 3): DeadLetterSummary {
  let total = 0;
  const all: DeadLetterSummary['latest'] = [];
  for (const inc of Object.values(state.incidents)) {
    total += inc.xdrSync.dropped ?? 0;
    for (const d of inc.xdrSync.deadLetters ?? []) all.push({ ...d, incidentId: inc.id, target: inc.targetValue });
  }
  all.sort((a, b) => b.at.localeCompare(a.at));
  return { total, latest: all.slice(0, show) };
}
