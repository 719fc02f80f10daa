import { hash } from 'node:crypto';
import { z } from 'zod';
import { SightlineError } from '../../../core/errors.js';
import { ctimProblems, sharedCtimBytes } from '../../../domain/correlation/ctim-rules.js';
import type { IncomingSighting } from '../../../domain/correlation/intake.js';
import { normaliseTargetValue, targetIdentity } from '../../../domain/investigate/target-identity.js';
import { INVISIBLE, targetValueProblem } from '../../../domain/investigate/target-text.js';
import { refang } from '../../../domain/ioc/refang.js';
import type { Observable, SightingTarget } from '../../../domain/types.js';

/**
 * The two shapes a sighting may arrive in (seeds.md §1.9, §5; xdr-api.md §4.4), checked
 * item by item so one bad sighting in a batch never costs the good ones:
 *  (a) the seed's 7-field module payload, `sighting_json` being a STRING holding a CTIM
 *      sighting without `id` (an object is tolerated too);
 *  (b) a CTIM sighting object with `targets` and `observables`; it becomes one
 *      IncomingSighting per (target, observable) pair.
 * A body is one item or an array of items.
 */
export interface ItemProblem {
  /** Position of the item in the posted array (0 for a single object). */
  index: number;
  /** Where in the item, e.g. `sighting_json` or `targets[1].observables`; `(item)` for the whole item. */
  field: string;
  reason: string;
}

export interface ParsedSightings {
  items: IncomingSighting[];
  problems: ItemProblem[];
  /** How many items the body held (before expanding targets × observables). */
  itemCount: number;
}

const MAX_IOC_LENGTH = 2048;
/** One posted sighting may name many targets and observables; beyond this the sender is asked to split it. */
export const MAX_PAIRS_PER_SIGHTING = 1000;
/**
 * The ceiling on the work one request can cause (issue 17 item 2), whatever its shape:
 * at most this many (target × observable) pairs in the whole request, each one counted,
 * journaled and mirrored to XDR…
 */
export const MAX_PAIRS_PER_REQUEST = 1000;
/**
 * …and at most this many bytes of CTIM copies beyond the first for sightings that fan out
 * (pairs − 1) × (the sighting without its targets and observables): each pair is mirrored
 * with its own copy, so a big sighting with many targets is refused instead of multiplied.
 */
export const MAX_FANOUT_BYTES = 4 * 1024 * 1024;

/** Answered 413: the request as a whole asks for more work than one request may cause. */
export class RequestTooLarge extends SightlineError {
  constructor(message: string) {
    super('payload_too_large', message, { httpStatus: 413 });
  }
}

/** What the items parsed so far have used of the request's ceiling. */
interface Budget {
  pairs: number;
  fanoutBytes: number;
  /** Latest observed time taken (epoch ms): a little after "now" when the caller says what now is. */
  latestMs: number;
}

/**
 * Observed times are taken from 1990-01-01T00:00:00Z (older than any EDR or SIEM sighting
 * that could still matter; year 0000 is a sender's placeholder) up to 24 hours after now
 * (clocks disagree a little; a sighting from next year is wrong). Without a "now" the upper
 * bound is 2100-01-01.
 */
export const EARLIEST_OBSERVED_MS = Date.UTC(1990, 0, 1);
export const LATEST_OBSERVED_MS = Date.UTC(2100, 0, 1);
export const FUTURE_TOLERANCE_MS = 24 * 3600 * 1000;

function newBudget(now?: Date): Budget {
  return { pairs: 0, fanoutBytes: 0, latestMs: now ? Math.min(now.getTime() + FUTURE_TOLERANCE_MS, LATEST_OBSERVED_MS) : LATEST_OBSERVED_MS };
}
const NETWORK_TYPES = new Set(['url', 'domain', 'ip', 'ipv6', 'email']);
const CASELESS_TYPES = new Set(['md5', 'sha1', 'sha256', 'domain', 'hostname', 'mac_address', 'email']);
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

const text = z.string().trim().min(1, { error: 'must not be empty' });
const observableSchema = z.looseObject({ type: text, value: z.string() });
const observedTimeSchema = z.looseObject({ start_time: z.string().optional(), end_time: z.string().optional() });
const targetSchema = z.looseObject({
  type: text,
  observables: z.array(observableSchema).min(1, { error: 'must name at least one observable of the target' }),
  observed_time: observedTimeSchema.optional(),
  os: z.string().optional(),
});

/** (b) A CTIM sighting as a JSON object (xdr-api.md §4.4). */
export const ctimSightingSchema = z.looseObject({
  id: text.optional(),
  external_ids: z.array(z.string()).optional(),
  source: z.string().optional(),
  observed_time: observedTimeSchema.optional(),
  targets: z.array(targetSchema).min(1, { error: 'must name at least one target' }),
  observables: z.array(observableSchema).min(1, { error: 'must name at least one observable (the IOC)' }),
});

/** (a) The seed's module → correlator contract (seeds.md §1.9). `id` is an optional sender delivery id. */
export const modulePayloadSchema = z.looseObject({
  id: text.optional(),
  target_type: text,
  target_value: text,
  ioc_type: text,
  ioc_value: z.string(),
  event_source: text,
  target_observed_time: z.string().optional(),
  sighting_json: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
});

type CtimSighting = z.output<typeof ctimSightingSchema>;
type ModulePayload = z.output<typeof modulePayloadSchema>;

/** Splits a decoded JSON body into valid IncomingSightings and per-item problems. */
export function parseSightingsBody(body: unknown, opts: { now?: Date } = {}): ParsedSightings {
  const raw = Array.isArray(body) ? body : [body];
  const out: ParsedSightings = { items: [], problems: [], itemCount: raw.length };
  const budget = newBudget(opts.now);
  raw.forEach((item, index) => {
    const result = parseSightingItem(item, budget);
    if ('problems' in result) out.problems.push(...result.problems.map((p) => ({ index, ...p })));
    else out.items.push(...result.items);
  });
  return out;
}

type ItemResult = { items: IncomingSighting[] } | { problems: Omit<ItemProblem, 'index'>[] };

export function parseSightingItem(item: unknown, budget: Budget = newBudget()): ItemResult {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return problem('(item)', 'must be a JSON object: a CTIM sighting with targets, or the 7-field module payload');
  }
  if (nestedDeeperThan(item, MAX_DEPTH)) return problem('(item)', `is nested more than ${MAX_DEPTH} levels deep; a CTIM sighting is much flatter — send the sighting itself`);
  if ('targets' in item) return fromCtimSighting(item, budget);
  if ('target_value' in item || 'ioc_value' in item || 'sighting_json' in item) return spend(budget, 1, 0, fromModulePayload(item, budget));
  return problem(
    '(item)',
    'is neither a CTIM sighting (needs targets and observables) nor the module payload (target_type, target_value, ioc_type, ioc_value, event_source, target_observed_time, sighting_json)',
  );
}

function fromModulePayload(input: object, budget: Budget): ItemResult {
  const parsed = modulePayloadSchema.safeParse(input);
  if (!parsed.success) return zodProblems(parsed.error);
  const p: ModulePayload = parsed.data;
  const ctim = parseInnerSighting(p.sighting_json);
  if ('problems' in ctim) return ctim;
  const refused = ctim.value ? ctimProblems(ctim.value, 'sighting_json') : [];
  if (refused.length > 0) return { problems: refused.map((r) => ({ field: r.field, reason: `${r.reason}; XDR would refuse the sighting` })) };
  const ioc = normaliseIoc(p.ioc_type, p.ioc_value);
  if ('reason' in ioc) return problem(`ioc_${ioc.field}`, ioc.reason);
  const valueProblem = targetValueProblem(p.target_value);
  if (valueProblem) return problem('target_value', valueProblem);
  const target = richTarget(p.target_type, p.target_value, ctim.value);
  const hidden = targetProblem(target, 'sighting_json.targets');
  if (hidden) return hidden;
  const timeField = p.target_observed_time !== undefined ? 'target_observed_time' : 'sighting_json.observed_time.start_time';
  const rawTime = p.target_observed_time ?? target.observed_time?.start_time ?? innerStartTime(ctim.value);
  const time = checkTime(rawTime, budget.latestMs);
  if ('reason' in time) return problem(timeField, time.reason);
  const observedAt = time.iso;
  const key = targetIdentity(target).key;
  const externalId = p.id ? undefined : firstString(ctim.value?.external_ids);
  const dedupeKey = p.id ?? (externalId ? pairKey(externalId, key, ioc) : contentKey(key, ioc, p.event_source, observedAt));
  return { items: [{ dedupeKey, target, ioc, source: p.event_source, observedAt, ...(ctim.value ? { ctim: ctim.value } : {}) }] };
}

function fromCtimSighting(input: object, budget: Budget): ItemResult {
  const parsed = ctimSightingSchema.safeParse(input);
  if (!parsed.success) return zodProblems(parsed.error);
  const s: CtimSighting = parsed.data;
  // Before any per-pair work: a hostile 1,000 × 1,000 sighting must cost nothing.
  const pairCount = s.targets.length * s.observables.length;
  if (pairCount > MAX_PAIRS_PER_SIGHTING) {
    return problem('targets', `names ${s.targets.length} targets × ${s.observables.length} observables = ${pairCount} pairs; split it into sightings of at most ${MAX_PAIRS_PER_SIGHTING} pairs`);
  }
  const refused = ctimProblems(s);
  if (refused.length > 0) return { problems: refused.map((r) => ({ field: r.field, reason: `${r.reason}; XDR would refuse the sighting` })) };
  const iocs: Observable[] = [];
  for (const [i, o] of s.observables.entries()) {
    const ioc = normaliseIoc(o.type, o.value);
    if ('reason' in ioc) return problem(`observables[${i}].${ioc.field}`, ioc.reason);
    iocs.push(ioc);
  }
  const { id, ...ctim } = s;
  const source = s.source?.trim() || 'webhook';
  const explicitId = id ?? firstString(s.external_ids);
  const pairs = new Map<string, IncomingSighting>();
  for (const [t, target] of s.targets.entries()) {
    if (!target.observables.some((o) => o.value.trim() !== '')) {
      return problem(`targets[${t}].observables`, 'has no observable with a value that identifies the target');
    }
    const hidden = targetProblem(target, `targets[${t}]`);
    if (hidden) return hidden;
    const rawTime = target.observed_time?.start_time ?? s.observed_time?.start_time;
    const time = checkTime(rawTime, budget.latestMs);
    if ('reason' in time) {
      const field = target.observed_time?.start_time !== undefined ? `targets[${t}].observed_time.start_time` : 'observed_time.start_time';
      return problem(field, time.reason);
    }
    const observedAt = time.iso;
    const key = targetIdentity(target).key;
    for (const ioc of iocs) {
      const pair = `${key}\n${ioc.type}\n${ioc.value}`;
      if (pairs.has(pair)) continue;
      const dedupeKey = explicitId ? pairKey(explicitId, key, ioc) : contentKey(key, ioc, source, observedAt);
      pairs.set(pair, { dedupeKey, target: target as SightingTarget, ioc, source, observedAt, ctim });
    }
  }
  if (pairs.size > MAX_PAIRS_PER_SIGHTING) {
    return problem('targets', `names ${pairs.size} target × observable pairs; split it into sightings of at most ${MAX_PAIRS_PER_SIGHTING}`);
  }
  const items = [...pairs.values()];
  // A single-pair sighting keeps the sender's id verbatim, so the 202's ids echo it.
  if (explicitId && items.length === 1) items[0]!.dedupeKey = explicitId;
  const fanout = items.length > 1 ? (items.length - 1) * sharedCtimBytes(ctim) : 0;
  return spend(budget, items.length, fanout, { items });
}

/** Counts an item's pairs against the request's ceiling; beyond it the whole request is refused (413). */
function spend(budget: Budget, pairs: number, fanoutBytes: number, result: ItemResult): ItemResult {
  if ('problems' in result) return result;
  budget.pairs += pairs;
  budget.fanoutBytes += fanoutBytes;
  if (budget.pairs > MAX_PAIRS_PER_REQUEST) {
    throw new RequestTooLarge(
      `This request asks for more than ${MAX_PAIRS_PER_REQUEST} (target × observable) pairs in all; split it into smaller requests.`,
    );
  }
  if (budget.fanoutBytes > MAX_FANOUT_BYTES) {
    throw new RequestTooLarge(
      `This request's sightings name so many targets that their copies for XDR would exceed ${MAX_FANOUT_BYTES / 1_048_576} MB; send fewer targets per sighting, or leave bulky fields (data, context, description) out.`,
    );
  }
  return result;
}

/** `sighting_json` is a string holding a CTIM sighting; its `id` is dropped so XDR can store a copy. */
function parseInnerSighting(raw: string | Record<string, unknown> | undefined): { value?: Record<string, unknown> } | { problems: Omit<ItemProblem, 'index'>[] } {
  if (raw === undefined) return {};
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (err) {
      return problem('sighting_json', `is not valid JSON (${(err as Error).message}); send the CTIM sighting serialised as a string`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return problem('sighting_json', 'must hold a JSON object (a CTIM sighting without id)');
  }
  if (nestedDeeperThan(value, MAX_DEPTH)) {
    return problem('sighting_json', `is nested more than ${MAX_DEPTH} levels deep; a CTIM sighting is much flatter — send the sighting itself`);
  }
  const { id: _dropped, ...ctim } = value as Record<string, unknown>;
  return { value: ctim };
}

/**
 * The module names the target by one observable; when the CTIM sighting holds a
 * target containing it, that whole target is used so the identity (hostname first)
 * matches what the structured form of the same sighting would give.
 */
function richTarget(type: string, value: string, ctim: Record<string, unknown> | undefined): SightingTarget {
  const wanted = normaliseTargetValue(type, value);
  // Not a zod array schema built per call: building one cost more than the rest of the item (profiled).
  const targets: unknown[] = Array.isArray(ctim?.targets) ? ctim.targets : [];
  for (const candidate of targets) {
    const t = targetSchema.safeParse(candidate);
    if (t.success && t.data.observables.some((o) => o.type === type && normaliseTargetValue(o.type, o.value) === wanted)) {
      return t.data as SightingTarget;
    }
  }
  return { type: 'endpoint', observables: [{ type, value }] };
}

/** Every observable of a target is checked: any of them may become the incident's identity, and all go to XDR. */
function targetProblem(target: { observables: { value: string }[] }, at: string): { problems: Omit<ItemProblem, 'index'>[] } | undefined {
  for (const [i, o] of target.observables.entries()) {
    const reason = targetValueProblem(o.value);
    if (reason) return problem(`${at}.observables[${i}].value`, reason);
  }
  return undefined;
}

export type IocProblem = { field: 'type' | 'value'; reason: string };

/** Light IOC hygiene: refang network values; reject empty values, control characters and oversize values. */
export function normaliseIoc(rawType: string, rawValue: string): Observable | IocProblem {
  const type = rawType.trim().toLowerCase();
  if (!/^[a-z0-9_]{1,64}$/.test(type)) return { field: 'type', reason: 'is not a CTIM observable type (letters, digits and underscores)' };
  let value = NETWORK_TYPES.has(type) ? refang(rawValue) : rawValue.trim();
  if (value === '') return { field: 'value', reason: 'is empty' };
  if (CONTROL_CHARS.test(value)) return { field: 'value', reason: 'contains control characters' };
  if (INVISIBLE.test(value)) return { field: 'value', reason: 'contains invisible characters (zero-width, bidi override or other format characters)' };
  if (value.length > MAX_IOC_LENGTH) return { field: 'value', reason: `is longer than ${MAX_IOC_LENGTH} characters` };
  if (CASELESS_TYPES.has(type)) value = value.toLowerCase();
  return { type, value };
}

/** ISO-8601 only; a date-time without a zone is read as UTC, never as the server's local time. */
export function toIsoTime(raw: string | undefined): string | undefined {
  const t = checkTime(raw, LATEST_OBSERVED_MS);
  return 'iso' in t ? t.iso : undefined;
}

/** A real calendar date-time (no 2026-02-31, no 25:00) inside the sane range, or the reason it is not. */
export function checkTime(raw: string | undefined, latestMs: number): { iso: string } | { reason: string } {
  if (raw === undefined) return { reason: 'is missing: the time the IOC was observed on the target is required (ISO-8601)' };
  const notIso = { reason: 'is not an ISO-8601 date-time such as 2022-02-07T17:18:28.000Z' };
  if (typeof raw !== 'string') return notIso;
  const v = raw.trim();
  const m = ISO_DATE.exec(v);
  if (!m) return notIso;
  const [year, month, day] = [Number(v.slice(0, 4)), Number(v.slice(5, 7)), Number(v.slice(8, 10))];
  // V8 reads 2026-02-31 as 3 March: check the day exists in that month.
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) {
    return { reason: `is not a real date (${v.slice(0, 10)} does not exist)` };
  }
  const withZone = v.length > 10 && !m[1] ? `${v.replace(' ', 'T')}Z` : v.replace(' ', 'T');
  const ms = Date.parse(withZone);
  if (Number.isNaN(ms)) return notIso;
  if (ms < EARLIEST_OBSERVED_MS || ms > latestMs) {
    return { reason: `is outside the range taken, 1990-01-01T00:00:00Z to ${new Date(latestMs).toISOString()}${latestMs < LATEST_OBSERVED_MS ? ' (24 hours from now)' : ''}: send the time the IOC was really observed` };
  }
  return { iso: new Date(ms).toISOString() };
}

function innerStartTime(ctim: Record<string, unknown> | undefined): string | undefined {
  const t = ctim?.observed_time;
  return typeof t === 'object' && t !== null && typeof (t as { start_time?: unknown }).start_time === 'string'
    ? (t as { start_time: string }).start_time
    : undefined;
}

function firstString(list: unknown): string | undefined {
  return Array.isArray(list) ? list.find((x): x is string => typeof x === 'string' && x.trim() !== '') : undefined;
}

/**
 * One sender id covering several pairs: each pair gets its own key, stable across redeliveries.
 * The pair is hashed so a key stays short whatever the target and IOC (no T × O × length blow-up).
 */
function pairKey(id: string, targetKey: string, ioc: Observable): string {
  return `${id}#${hash('sha256', `${targetKey}\n${ioc.type}\n${ioc.value}`, 'hex').slice(0, 32)}`;
}

/** No sender id: the same observation (target, IOC, source, time) is the same sighting. */
export function contentKey(targetKey: string, ioc: Observable, source: string, observedAt: string): string {
  const canonical = JSON.stringify([targetKey, ioc.type, ioc.value, source, observedAt]);
  return `sha256:${hash('sha256', canonical, 'hex')}`;
}

function zodProblems(error: z.ZodError): { problems: Omit<ItemProblem, 'index'>[] } {
  return {
    problems: error.issues.map((issue) => ({
      field: fieldPath(issue.path) || '(item)',
      reason: /received undefined$/.test(issue.message) ? 'is required' : issue.message,
    })),
  };
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), '');
}

function problem(field: string, reason: string): { problems: Omit<ItemProblem, 'index'>[] } {
  return { problems: [{ field, reason }] };
}

/**
 * Real CTIM sightings nest about 6 levels. Anything far deeper is hostile or broken,
 * and kept as-is it would bloat the state and the XDR copy (found by the fuzz suite).
 */
const MAX_DEPTH = 32;

/** Iterative, so a hostile 100,000-level document cannot overflow the stack. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  // Two parallel stacks rather than a [value, depth] pair per object: this runs twice per sighting.
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    if (Array.isArray(v)) {
      for (const child of v) {
        if (child !== null && typeof child === 'object') {
          values.push(child);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const key in v) {
        const child = (v as Record<string, unknown>)[key];
        if (child !== null && typeof child === 'object') {
          values.push(child);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}
