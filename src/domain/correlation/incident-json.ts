import type { Incident } from './types.js';
import { xdrSyncJson } from './packed-sighting-op.js';

/**
 * An incident as compact JSON, identical to `JSON.stringify(incident)`, reusing the text of
 * its bulky parts from the last snapshot when they cannot have changed (issue 14). A flood
 * into 1,000 of 10,000 incidents used to re-serialise all 10,000 for every state write; now
 * the remembered sightings and IOC tallies of the other 9,000 are copied as text.
 *
 * Why `revision` is a safe key for exactly these fields: only the correlator changes them
 * (countInto), and it bumps `revision` every time it does; a new incident is a new object.
 * Fields that change without a revision bump (status, xdrSync, cardMessageId, rungsFired
 * outcomes, …) are small and always serialised afresh. The lengths are checked too, as a
 * guard against a future change that forgets the bump.
 */
const REUSED = new Set<string>(['initial', 'recentSightings', 'iocs']);

interface Cached {
  revision: number;
  recentLength: number;
  iocsLength: number;
  parts: Map<string, string>;
}

let cache = new WeakMap<object, Cached>();
/** Whether texts made now are kept for the next snapshot (off while the process is quiet). */
let keeping = true;

/**
 * Drops every cached text, and keeps none until `keepIncidentTexts`. The cache pays off while
 * snapshots come often (a flood: most incidents unchanged between two); a quiet process writes
 * rarely, and at 10,000 incidents the texts held ~25 MB for nothing (idle RSS 217 MB against 185
 * without them). Refilled at the next write, they went back into the old generation only to be
 * dropped again at the next quiet look: after a flood, while the mirror still changed every
 * incident, RSS went up and down ~13 MB every few seconds (issue 14, the minute after a flood).
 */
export function forgetIncidentTexts(): void {
  cache = new WeakMap();
  keeping = false;
}

/** The process is busy again: texts made from now on are kept for the next snapshot. */
export function keepIncidentTexts(): void {
  keeping = true;
}
/** `"key":` for every field name seen (a few dozen): no quoting work per incident. */
const quotedKeys = new Map<string, string>();

export function incidentJson(inc: Incident): string {
  let c = cache.get(inc);
  if (!c || c.revision !== inc.revision || c.recentLength !== inc.recentSightings.length || c.iocsLength !== inc.iocs.length) {
    c = { revision: inc.revision, recentLength: inc.recentSightings.length, iocsLength: inc.iocs.length, parts: new Map() };
    if (keeping) cache.set(inc, c);
  }
  let out = '{';
  for (const key of Object.keys(inc)) {
    const value = (inc as unknown as Record<string, unknown>)[key];
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    let text: string | undefined;
    if (REUSED.has(key)) {
      text = c.parts.get(key);
      if (text === undefined) c.parts.set(key, (text = JSON.stringify(value)));
    } else if (key === 'xdrSync' && typeof value === 'object' && value !== null) {
      // Queued CTIM bodies are held as text (packed-sighting-op.ts): written as they are, not parsed to print.
      text = xdrSyncJson(value);
    } else {
      text = JSON.stringify(value);
    }
    let quoted = quotedKeys.get(key);
    if (quoted === undefined) {
      quoted = `${JSON.stringify(key)}:`;
      if (quotedKeys.size < 1000) quotedKeys.set(key, quoted);
    }
    out += out.length === 1 ? quoted + text : `,${quoted}${text}`;
  }
  return `${out}}`;
}

/** True for a value that looks like an incident (the state file may hold anything a newer version wrote). */
export function isIncidentLike(v: unknown): v is Incident {
  const i = v as Partial<Incident> | null;
  return typeof i === 'object' && i !== null && typeof i.revision === 'number' && Array.isArray(i.recentSightings) && Array.isArray(i.iocs) && typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}
