import { ValidationError } from '../../core/errors.js';
import { refang } from '../ioc/refang.js';
import { cidrTooLargeReason, classifyIndicator, expandCidr, REASONS } from '../ioc/validate.js';
import type { Observable, RejectedValue, Roundup, Threat } from '../types.js';
import { parseRoundupHeader, parseThreat, type RawThreat } from './roundup-schema.js';

export interface ParseOptions {
  /** Also investigate every sample SHA-256 of the threat, not only those tied to an IOC. */
  includeSampleHashes: boolean;
  /** Largest CIDR range expanded to every address (TALOS_CIDR_EXPAND_MAX). */
  cidrExpandMax: number;
}

/**
 * Turns a roundup file into threats ready to hunt: one Threat per entry of
 * `signatures`, in that (blog) order. Observables are domains, then IPs, then
 * SHA-256s, de-duplicated per threat. Every value read from `iocs.domain`,
 * `iocs.ip` and the hash lists ends up either as an observable or in
 * `rejected` with its reason; nothing is dropped silently. `rejected.value` is
 * the refanged value so analysts can copy it.
 */
export function parseRoundup(json: unknown, source: string, opts: ParseOptions): Roundup {
  const data = typeof json === 'string' ? parseJsonText(json, source) : json;
  const header = parseRoundupHeader(data, source);
  const record = data as Record<string, unknown>;
  const threats = header.signatures.map((name) => buildThreat(name, parseThreat(record[name], name, source), opts));
  return { source, publicationDate: header.info?.publication_date, threats };
}

function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const start = text.trimStart().slice(0, 15).toLowerCase();
    const hint = start.startsWith('<') ? ' It looks like an HTML page, not the JSON file.' : '';
    throw new ValidationError(`${source} is not valid JSON, so it cannot be a Talos Threat Roundup (${(err as Error).message}).${hint}`);
  }
}

/** Collects observables and rejections for one threat; keys dedupe by type and value. */
class ThreatCollector {
  readonly observables: Observable[] = [];
  readonly rejected: RejectedValue[] = [];
  private readonly seen = new Set<string>();
  private readonly seenRejected = new Set<string>();

  add(observable: Observable): void {
    const key = `${observable.type}\u0000${observable.value}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.observables.push(observable);
  }

  reject(value: string, reason: string, field: string): void {
    const key = `${field}\u0000${reason}\u0000${value}`;
    if (this.seenRejected.has(key)) return;
    this.seenRejected.add(key);
    this.rejected.push({ value, reason, field });
  }
}

function buildThreat(name: string, raw: RawThreat, opts: ParseOptions): Threat {
  const out = new ThreatCollector();
  const { iocs } = raw;

  for (const entry of iocs.domain) {
    const result = classifyIndicator(entry.host, 'domain');
    if (result.ok) out.add(result.observable);
    else out.reject(refang(entry.host), result.reason, 'iocs.domain');
  }
  for (const entry of iocs.ip) addIp(out, entry.ip, opts.cidrExpandMax);

  const hashLists: Array<[string, Array<{ hashes: string[] }>]> = [
    ['iocs.file', iocs.file],
    ['iocs.mutex', iocs.mutex],
    ['iocs.registry', iocs.registry],
    ['iocs.domain', iocs.domain],
    ['iocs.ip', iocs.ip],
  ];
  for (const [field, entries] of hashLists) {
    for (const entry of entries) for (const hash of entry.hashes) addHash(out, hash, `${field}.hashes`);
  }
  if (opts.includeSampleHashes) for (const hash of raw.hashes) addHash(out, hash, 'hashes');

  return {
    name,
    description: raw.description,
    category: raw.category,
    reportsCount: raw.reports_count ?? raw.hashes.length,
    observables: out.observables,
    rejected: out.rejected,
    context: {
      files: unique(iocs.file.map((f) => f.path)),
      mutexes: unique(iocs.mutex.map((m) => m.name)),
      registry: unique(iocs.registry.map((r) => (r.value_name ? `${r.key} (value name: ${r.value_name})` : r.key))),
    },
  };
}

/** `1[.]2[.]3[.]4` or `1[.]2[.]3[.]4/31` (906 CIDR values across the real files). */
function addIp(out: ThreatCollector, raw: string, cidrExpandMax: number): void {
  const value = refang(raw);
  const slash = value.indexOf('/');
  if (slash === -1) {
    const result = classifyIndicator(value, 'ip');
    if (result.ok) out.add(result.observable);
    else out.reject(value, result.reason, 'iocs.ip');
    return;
  }
  const base = value.slice(0, slash);
  const prefixText = value.slice(slash + 1);
  const prefix = /^\d{1,2}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  const expansion = expandCidr(base, prefix, cidrExpandMax);
  if (!expansion) {
    out.reject(value, classifyIndicator(base, 'ip').ok ? REASONS.cidrPrefix : REASONS.ipv4, 'iocs.ip');
    return;
  }
  for (const address of expansion.addresses) out.add({ type: 'ip', value: address });
  if (!expansion.expanded) out.reject(value, cidrTooLargeReason(prefix, expansion.size), 'iocs.ip');
}

function addHash(out: ThreatCollector, raw: string, field: string): void {
  const result = classifyIndicator(raw, 'sha256');
  if (result.ok) out.add(result.observable);
  else out.reject(raw, result.reason, field);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** Counts rejections by reason, most frequent first, for the hunt report. */
export function summarizeRejections(threat: Pick<Threat, 'rejected'>): Array<{ reason: string; count: number }> {
  const counts = new Map<string, number>();
  for (const r of threat.rejected) counts.set(r.reason, (counts.get(r.reason) ?? 0) + 1);
  return [...counts].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}
