import { targetIdentity } from '../investigate/target-identity.js';
import type { IncomingSighting } from './intake.js';

/**
 * What CTIA checks on a new sighting (xdr-api.md §4.1, §4.4), checked at the intake so a
 * sighting answered 202 is one XDR will take (issue 17 item 12). Missing target
 * `observed_time` is not a refusal: each target gets the sighting's own observed time
 * (documented in the README), as the pair's observed time already is.
 */
export const CTIM_TITLE_MAX = 1024;
export const CTIM_SHORT_DESCRIPTION_MAX = 2048;
export const CTIM_DESCRIPTION_MAX = 5000;
export const CTIM_SOURCE_MAX = 2048;
/** The mirror appends " - sightline" to the source (loop prevention); it must still fit. */
export const SOURCE_SUFFIX_ROOM = ' - sightline'.length;

const CONFIDENCES = ['Info', 'Low', 'Medium', 'High', 'None', 'Unknown'];
const SEVERITIES = [...CONFIDENCES, 'Critical'];
const TLPS = ['red', 'amber', 'green', 'white'];

export interface CtimProblem {
  field: string;
  reason: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reasons CTIA would refuse this sighting for good; empty when it will take it. `prefix` names where it sits in the request. */
export function ctimProblems(ctim: Obj, prefix = ''): CtimProblem[] {
  const out: CtimProblem[] = [];
  const at = (f: string) => (prefix ? `${prefix}.${f}` : f);
  const text = (key: string, max: number) => {
    const v = ctim[key];
    if (v === undefined) return;
    if (typeof v !== 'string') out.push({ field: at(key), reason: 'must be a string' });
    else if (v.length > max) out.push({ field: at(key), reason: `is longer than XDR's limit of ${max} characters` });
  };
  const oneOf = (key: string, allowed: string[]) => {
    const v = ctim[key];
    if (v !== undefined && (typeof v !== 'string' || !allowed.includes(v))) out.push({ field: at(key), reason: `must be one of ${allowed.join(', ')}` });
  };
  text('title', CTIM_TITLE_MAX);
  text('short_description', CTIM_SHORT_DESCRIPTION_MAX);
  text('description', CTIM_DESCRIPTION_MAX);
  text('source', CTIM_SOURCE_MAX - SOURCE_SUFFIX_ROOM);
  oneOf('tlp', TLPS);
  oneOf('confidence', CONFIDENCES);
  oneOf('severity', SEVERITIES);
  if (ctim.count !== undefined && !(Number.isInteger(ctim.count) && (ctim.count as number) >= 0)) out.push({ field: at('count'), reason: 'must be a whole number, 0 or more' });
  const ext = ctim.external_ids;
  if (ext !== undefined && !(Array.isArray(ext) && ext.every((e) => typeof e === 'string'))) out.push({ field: at('external_ids'), reason: 'must be a list of strings' });
  const t = ctim.observed_time;
  if (t !== undefined && !(isObj(t) && typeof t.start_time === 'string')) out.push({ field: at('observed_time'), reason: 'must be an object with start_time (ISO-8601)' });
  const obs = ctim.observables;
  if (obs !== undefined && !(Array.isArray(obs) && obs.every((o) => isObj(o) && typeof o.type === 'string' && typeof o.value === 'string'))) {
    out.push({ field: at('observables'), reason: 'must be a list of {type, value} strings' });
  }
  const targets = ctim.targets;
  if (targets !== undefined) {
    if (!Array.isArray(targets)) out.push({ field: at('targets'), reason: 'must be a list of targets' });
    else
      targets.forEach((target, i) => {
        if (!isObj(target) || typeof target.type !== 'string' || !Array.isArray(target.observables)) {
          out.push({ field: at(`targets[${i}]`), reason: 'must have a type and a list of observables' });
        } else if (target.observed_time !== undefined && !(isObj(target.observed_time) && typeof target.observed_time.start_time === 'string')) {
          out.push({ field: at(`targets[${i}].observed_time`), reason: 'must be an object with start_time (ISO-8601)' });
        }
      });
  }
  return out;
}

/**
 * The copy of a module's CTIM sighting mirrored for ONE (target, IOC) pair: only that
 * target and that IOC. One posted sighting with 1,000 targets then costs 1,000 small copies,
 * not 1,000 copies of the whole thing (issue 17 item 2); each target gets an
 * observed_time (its own, else the sighting's, else the pair's) because CTIA requires one.
 */
export function ctimForPair(ctim: Obj, s: Pick<IncomingSighting, 'target' | 'ioc' | 'observedAt'>): Obj {
  const { targets, observables, ...rest } = ctim;
  const fallback = isObj(rest.observed_time) && typeof rest.observed_time.start_time === 'string' ? rest.observed_time : { start_time: s.observedAt };
  const key = targetIdentity(s.target).key;
  const own = Array.isArray(targets)
    ? targets.filter((t): t is Obj => isObj(t) && Array.isArray(t.observables) && targetIdentity(t as never).key === key)
    : [];
  const chosen = own.length > 0 ? own.slice(0, 1) : [s.target as unknown as Obj];
  const out: Obj = { ...rest, targets: chosen.map((t) => ({ ...t, observed_time: isObj(t.observed_time) ? t.observed_time : fallback })) };
  const sameIoc = Array.isArray(observables) ? observables.filter((o) => isObj(o) && o.type === s.ioc.type && typeof o.value === 'string') : [];
  out.observables = sameIoc.length > 0 && Array.isArray(observables) && observables.length === 1 ? observables : [{ type: s.ioc.type, value: s.ioc.value }];
  return out;
}

/** JSON size of the parts of a CTIM sighting every pair's copy repeats (all but targets and observables). */
export function sharedCtimBytes(ctim: Obj): number {
  const { targets: _t, observables: _o, ...rest } = ctim;
  return JSON.stringify(rest).length;
}
