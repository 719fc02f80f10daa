import type { Incident } from './types.js';
import { jsonText, type JsonSink } from '../../core/json-sink.js';
import { writeXdrSyncJson } from './packed-sighting-op.js';
import { appendShape, matchShapeAt, type ShapeToken } from '../../core/json-shape.js';

/**
 * An incident as compact JSON, identical to `JSON.stringify(incident)`, as UTF-8 bytes reused
 * whole from the last snapshot when the incident cannot have changed (issue 14). A flood into
 * 1,000 of 10,000 incidents used to re-serialise all 10,000 for every state write; then the bulky
 * parts were reused as text but every incident's text was still put together and copied again; now
 * the other 9,000 are written from the bytes of the last snapshot, outside the JavaScript heap.
 *
 * Why the check is safe: the bulky fields (remembered sightings, IOC tallies, the first sighting)
 * change only in the correlator, which bumps `revision` every time it changes them; their lengths
 * are checked too, as a guard against a future change that forgets the bump. Every other field
 * (status, xdrSync, cardMessageId, rungsFired outcomes, …) may change without a bump: they are small,
 * and compared at every snapshot with their shape at the last one (core/json-shape.ts: whether they
 * would serialise to the same text, without making it). A new incident is a new object.
 */
const BULKY = new Set<string>(['initial', 'recentSightings', 'iocs']);

interface Cached {
  revision: number;
  recentLength: number;
  iocsLength: number;
  /** Set once the incident was seen unchanged in its bulky parts. */
  settled?: Settled;
}

/** What a settled incident was written as: its bytes, and each field's name followed by its shape (none for a bulky one). */
interface Settled {
  fields: ShapeToken[];
  bytes: Buffer;
}

let cache = new WeakMap<object, Cached>();
/** Whether texts made now are kept for the next snapshot (off while the process is quiet). */
let keeping = true;

/**
 * Drops every cached text, and keeps none until `keepIncidentTexts`. The cache pays off while
 * snapshots come often (a flood: most incidents unchanged between two); a quiet process writes
 * rarely, and at 10,000 incidents the texts held ~25 MB for nothing (idle RSS 217 MB against 185
 * without them). Refilled at the next write, they went back into memory only to be dropped again
 * at the next quiet look: after a flood, while the mirror still changed every incident, RSS went
 * up and down ~13 MB every few seconds (issue 14, the minute after a flood).
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

/**
 * The incident's JSON for a snapshot: the same Buffer as at the last snapshot when nothing changed
 * (never changed after, so the writer may hold it by reference until the disk takes it), else the
 * text made now.
 *
 * Bytes are kept only for an incident that looks settled: its bulky parts unchanged since the last
 * snapshot, and no XDR change waiting (the mirror will change it as soon as it sends one). An incident
 * a flood is counting changes at every snapshot, and its queued CTIM bodies made its text ~15 KB:
 * keeping that for the 1,000 incidents of a flood would have cost ~25 MB for texts never reused.
 */
export function writeIncidentJson(inc: Incident, sink: JsonSink): void {
  const c = cache.get(inc);
  const settled = c !== undefined && c.revision === inc.revision && c.recentLength === inc.recentSightings.length && c.iocsLength === inc.iocs.length;
  if (!settled) {
    if (keeping) cache.set(inc, { revision: inc.revision, recentLength: inc.recentSightings.length, iocsLength: inc.iocs.length });
    writeFields(inc, Object.keys(inc), sink);
    return;
  }
  if ((inc.xdrSync?.pending?.length ?? 0) > 0) {
    c.settled = undefined;
    writeFields(inc, Object.keys(inc), sink);
    return;
  }
  // The common case at every snapshot (9,000 of 10,000 incidents in a flood): nothing allocated.
  if (c.settled && sameSmallFields(inc, c.settled)) {
    sink.kept(c.settled.bytes);
    return;
  }
  const fields = Object.keys(inc);
  if (!keeping) {
    writeFields(inc, fields, sink);
    return;
  }
  const bytes = Buffer.from(jsonText((whole) => writeFields(inc, fields, whole)));
  c.settled = { fields: fieldShapes(inc, fields), bytes };
  sink.kept(bytes);
}

/** The incident's JSON, exactly `JSON.stringify(inc)` (with the reuse of `writeIncidentJson`). */
export function incidentJson(inc: Incident): string {
  return jsonText((sink) => writeIncidentJson(inc, sink));
}

/** Each field's name, then its shape unless it is bulky (the revision and the lengths stand for those), in one array. */
function fieldShapes(inc: Incident, fields: readonly string[]): ShapeToken[] {
  const record = inc as unknown as Record<string, unknown>;
  const tokens: ShapeToken[] = [];
  for (const key of fields) {
    tokens.push(key);
    if (!BULKY.has(key)) appendShape(record[key], tokens);
  }
  return tokens;
}

/**
 * Whether the incident would be written as it was: the same field names in the same order (for…in
 * walks them as Object.keys lists them, without making the list) and every small field serialising
 * to the same text as before.
 */
function sameSmallFields(inc: Incident, { fields }: Settled): boolean {
  const record = inc as unknown as Record<string, unknown>;
  let at = 0;
  for (const key in record) {
    if (at >= fields.length || key !== fields[at]) return false;
    at++;
    if (!BULKY.has(key)) {
      at = matchShapeAt(record[key], fields, at);
      if (at < 0) return false;
    }
  }
  return at === fields.length;
}

function writeFields(inc: Incident, fields: readonly string[], sink: JsonSink): void {
  const record = inc as unknown as Record<string, unknown>;
  let first = true;
  for (const key of fields) {
    const value = record[key];
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    sink.text(`${first ? '{' : ','}${quoted(key)}`);
    first = false;
    // Queued CTIM bodies are held as text (packed-sighting-op.ts): written as they are, not parsed to print.
    if (key === 'xdrSync' && typeof value === 'object' && value !== null) writeXdrSyncJson(value, sink);
    else sink.text(JSON.stringify(value));
  }
  sink.text(first ? '{}' : '}');
}

function quoted(key: string): string {
  let q = quotedKeys.get(key);
  if (q === undefined) {
    q = `${JSON.stringify(key)}:`;
    if (quotedKeys.size < 1000) quotedKeys.set(key, q);
  }
  return q;
}

/** True for a value that looks like an incident (the state file may hold anything a newer version wrote). */
export function isIncidentLike(v: unknown): v is Incident {
  const i = v as Partial<Incident> | null;
  return typeof i === 'object' && i !== null && typeof i.revision === 'number' && Array.isArray(i.recentSightings) && Array.isArray(i.iocs) && typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}
