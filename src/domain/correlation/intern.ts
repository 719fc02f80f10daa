import type { Observable } from '../types.js';
import type { CorrelationState, Incident } from './types.js';

/**
 * Shares the strings the correlation state repeats. At 10,000 incidents the heap held
 * 250,000 copies of 5,000 distinct IOC values, 109,000 copies of one source name and a
 * fresh `{type, value}` object per remembered sighting (issue 14): every sighting parsed
 * from a request or the journal brings its own copies, and the state keeps 50 of them per
 * incident. Interning at intake keeps one copy of each; the tables are bounded (cleared
 * when full: a value seen again after that just becomes the new shared copy), so an
 * attacker sending endless distinct values costs at most the cap, never a leak.
 */
export class Interner {
  private strings = new Map<string, string>();
  /** type → value → one frozen Observable (a nested map: no key string built per lookup). */
  private iocs = new Map<string, Map<string, Observable>>();
  private iocCount = 0;

  constructor(private readonly capacity = 50_000) {}

  string(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    if (this.strings.size >= this.capacity) this.strings = new Map();
    this.strings.set(s, s);
    return s;
  }

  /** One shared, frozen `{type, value}` per IOC: records hold it by reference (nothing mutates them; frozen proves it). */
  ioc(type: string, value: string): Observable {
    let byValue = this.iocs.get(type);
    const known = byValue?.get(value);
    if (known) return known;
    if (this.iocCount >= this.capacity) {
      this.iocs = new Map();
      this.iocCount = 0;
      byValue = undefined;
    }
    if (!byValue) {
      byValue = new Map();
      this.iocs.set(this.string(type), byValue);
    }
    const made = Object.freeze({ type: this.string(type), value: this.string(value) });
    byValue.set(made.value, made);
    this.iocCount++;
    return made;
  }
}

/** The process's one table for the correlation state (domain code stays free of I/O; this is only memory). */
export const correlationInterner = new Interner();

/**
 * Shares repeated strings and IOC objects of a state loaded from disk (JSON.parse gives every
 * occurrence its own copy). One pass over the incidents after start-up, cheaper than a
 * JSON.parse reviver (which doubled the parse time); the values are unchanged, so the state
 * file written next is byte for byte what it would have been.
 */
export function compactCorrelation(cs: CorrelationState, interner: Interner = correlationInterner): void {
  for (const inc of Object.values(cs.incidents)) compactIncident(inc, interner);
}

function compactIncident(inc: Incident, t: Interner): void {
  // Timestamps are mostly distinct across incidents but repeat within one (a sighting's time is
  // also lastSeen, an IOC's lastSeen, firstSeen): shared per incident, not in the global table.
  const times = new Map<string, string>();
  const time = (s: string): string => {
    const known = times.get(s);
    if (known !== undefined) return known;
    times.set(s, s);
    return s;
  };
  inc.targetType = t.string(inc.targetType);
  inc.status = t.string(inc.status);
  inc.firstSeen = time(inc.firstSeen);
  inc.lastSeen = time(inc.lastSeen);
  inc.lastSource = t.string(inc.lastSource);
  if (Object.keys(inc.lastIoc).length === 2) inc.lastIoc = t.ioc(inc.lastIoc.type, inc.lastIoc.value);
  const record = (r: Incident['initial']): void => {
    r.observedAt = time(r.observedAt);
    r.source = t.string(r.source);
    // Only a plain {type, value} is swapped for the shared one: an older or newer file's extra fields stay.
    if (Object.keys(r.ioc).length === 2) r.ioc = t.ioc(r.ioc.type, r.ioc.value);
  };
  record(inc.initial);
  for (const r of inc.recentSightings) record(r);
  for (const seen of inc.iocs) {
    seen.type = t.string(seen.type);
    seen.value = t.string(seen.value);
    seen.lastSeen = time(seen.lastSeen);
  }
}
