import { ValidationError } from '../../core/errors.js';

/**
 * Which roundup "this week" means, as pure date logic.
 *
 * Decision: the roundup of the most recent Friday on or before today, in the
 * hunt time zone. Talos publishes on Friday (US time); an analyst who asks on
 * Monday–Thursday wants last Friday's roundup, the one they have not hunted yet,
 * not one that does not exist. Saturday and Sunday give the Friday just past.
 * This matches the seed's own arithmetic (seeds.md §2.3: Fri → today, Sat → −1,
 * Sun → −2, Mon–Thu → back to the previous Friday).
 */
const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const DAY_MS = 86_400_000;

export function fridayOfWeek(now: Date, tz: string): string {
  const { year, month, day, weekday } = localDate(now, tz);
  const daysSinceFriday = (weekday - 5 + 7) % 7;
  return isoDate(Date.UTC(year, month - 1, day) - daysSinceFriday * DAY_MS);
}

/** The computed Friday, then Thursday and Saturday: real files are sometimes named a day off (seeds.md §3.5). */
export function candidateDates(friday: string): string[] {
  const at = parseIsoDate(friday);
  return [friday, isoDate(at - DAY_MS), isoDate(at + DAY_MS)];
}

export interface TemplateValues {
  /** YYYY-MM-DD */
  date: string;
  urlId?: number;
}

/** Fills `{yyyy} {mm} {dd} {mmdd} {yyyymmdd} {urlId}` in a roundup URL template. */
export function expandTemplate(template: string, values: TemplateValues): string {
  parseIsoDate(values.date);
  const [yyyy, mm, dd] = values.date.split('-') as [string, string, string];
  const fields: Record<string, string | undefined> = {
    yyyy,
    mm,
    dd,
    mmdd: `${mm}${dd}`,
    yyyymmdd: `${yyyy}${mm}${dd}`,
    urlId: values.urlId === undefined ? undefined : String(values.urlId),
  };
  return template.replace(/\{(yyyy|mm|dd|mmdd|yyyymmdd|urlId)\}/g, (_, name: string) => {
    const value = fields[name];
    if (value === undefined) {
      throw new ValidationError(`The Talos URL template needs {${name}} but no value was given; set TALOS_URL_ID_START or use a template without {urlId}.`);
    }
    return value;
  });
}

export function usesUrlId(template: string): boolean {
  return template.includes('{urlId}');
}

function localDate(now: Date, tz: string): { year: number; month: number; day: number; weekday: number } {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short' }).formatToParts(now);
  } catch {
    throw new ValidationError(`"${tz}" is not a time zone this system knows; set HUNT_TIMEZONE to an IANA name such as Europe/Brussels.`);
  }
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { year: Number(get('year')), month: Number(get('month')), day: Number(get('day')), weekday: WEEKDAYS[get('weekday')] ?? 0 };
}

function parseIsoDate(date: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const at = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : Number.NaN;
  if (Number.isNaN(at) || isoDate(at) !== date) throw new ValidationError(`"${date}" is not a date in the form YYYY-MM-DD.`);
  return at;
}

function isoDate(utcMs: number): string {
  return new Date(utcMs).toISOString().slice(0, 10);
}
