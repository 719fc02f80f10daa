import { z } from 'zod';
import { ValidationError } from '../../core/errors.js';

/**
 * The Talos Threat Roundup IOC file (seeds.md §3.2–3.3), `info.version` "2.1".
 *
 * Strict where the hunt depends on it: `signatures` must list threats, every
 * listed threat must exist, and the IOC lists must hold strings where we read
 * them. Lenient where real files vary or we do not read: unknown keys pass,
 * `coverage`/`bis`/`exprev` are not inspected, `value_name` may be null, and a
 * missing IOC list counts as empty. Hash strings are only checked for being
 * strings here; their format is checked per value so one bad hash becomes a
 * `rejected` entry instead of failing the whole week.
 */
const hashes = z.array(z.string()).default([]);
const list = <T extends z.ZodType>(entry: T) => z.array(entry).default([]);

export const threatSchema = z.looseObject({
  description: z.string().default(''),
  category: z.string().default(''),
  reports_count: z.number().int().nonnegative().optional(),
  hashes,
  coverage: z.unknown().optional(),
  bis: z.unknown().optional(),
  iocs: z
    .looseObject({
      domain: list(z.looseObject({ host: z.string(), hashes })),
      ip: list(z.looseObject({ ip: z.string(), hashes })),
      file: list(z.looseObject({ path: z.string(), hashes })),
      mutex: list(z.looseObject({ name: z.string(), hashes })),
      registry: list(z.looseObject({ key: z.string(), value_name: z.string().nullable().optional(), hashes })),
    })
    .default({ domain: [], ip: [], file: [], mutex: [], registry: [] }),
});

export const roundupHeaderSchema = z.looseObject({
  signatures: z.array(z.string().min(1)).min(1),
  info: z
    .looseObject({
      origin: z.string().optional(),
      publication_date: z.string().optional(),
      version: z.string().optional(),
    })
    .optional(),
  exprev: z.array(z.unknown()).optional(),
});

export type RawThreat = z.output<typeof threatSchema>;
export type RoundupHeader = z.output<typeof roundupHeaderSchema>;

/** Validates the top level; says in one sentence what kind of file this is instead. */
export function parseRoundupHeader(json: unknown, source: string): RoundupHeader {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ValidationError(`${source} is not a Talos Threat Roundup: it is a JSON ${Array.isArray(json) ? 'array' : typeof json}, not an object.`);
  }
  const record = json as Record<string, unknown>;
  if (!('signatures' in record)) {
    const hint = record.type === 'bundle' ? ' It looks like a STIX bundle (Cisco-Talos/IOCs), a different format.' : '';
    throw new ValidationError(`${source} is not a Talos Threat Roundup: it has no "signatures" list.${hint} Point Sightline at a roundup file such as …/Threat-Round-Up/master/YYYY/MMDD.json.`);
  }
  const header = roundupHeaderSchema.safeParse(json);
  if (!header.success) throw fromZod(source, 'the top level', header.error);
  return header.data;
}

export function parseThreat(json: unknown, name: string, source: string): RawThreat {
  if (json === undefined) {
    throw new ValidationError(`${source} is not a valid Talos Threat Roundup: "signatures" lists "${name}" but the file has no entry for it.`);
  }
  const threat = threatSchema.safeParse(json);
  if (!threat.success) throw fromZod(source, `threat "${name}"`, threat.error);
  return threat.data;
}

function fromZod(source: string, where: string, error: z.ZodError): ValidationError {
  const problems = error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = problems[0];
  const detail = first ? ` (${first.path || 'value'}: ${first.message})` : '';
  return new ValidationError(`${source} is not a valid Talos Threat Roundup: ${where} does not have the expected shape${detail}.`, problems);
}
