import { ValidationError } from '../../core/errors.js';
import { CONTEXT_REASONS, IocCollector, type IocFileResult, type ValueKind } from './ioc-collector.js';

/**
 * The older STIX 1.1.1 package as JSON (Talos's MISP export, 2022–2024):
 * packages, possibly nested in `related_packages`, hold incidents whose
 * `related_indicators` carry one CybOX object each. The first incident title
 * names the post. Every indicator's values become observables or context.
 */
type Rec = Record<string, unknown>;

export function isStix1Package(json: unknown): boolean {
  return isRecord(json) && typeof json.version === 'string' && json.version.startsWith('1.') && typeof json.id === 'string' && /STIXPackage/i.test(json.id);
}

export function parseStix1Package(json: unknown, source: string): IocFileResult {
  if (!isStix1Package(json)) throw new ValidationError(`${source} is not a STIX 1 package: it has no "id" naming a STIXPackage with "version" 1.x.`);
  const out = new IocCollector();
  const state: { title?: string; published?: string; link?: string } = {};
  readPackage(json as Rec, out, state, 0);
  return { format: 'stix1-package', ...state, observables: out.observables, rejected: out.rejected, tally: out.tally };
}

function readPackage(pkg: Rec, out: IocCollector, state: { title?: string; published?: string; link?: string }, depth: number): void {
  if (depth > 8) return; // packages nest one level in practice; bound it anyway
  for (const incident of asArray(pkg.incidents)) {
    if (!isRecord(incident)) continue;
    if (state.title === undefined && typeof incident.title === 'string') {
      state.title = incident.title.trim();
      if (typeof incident.timestamp === 'string') state.published = incident.timestamp;
    }
    for (const related of asArray(get(incident, 'related_indicators', 'indicators'))) {
      const indicator = isRecord(related) ? related.indicator : undefined;
      if (isRecord(indicator)) readProperties(get(indicator, 'observable', 'object', 'properties'), out);
    }
    // The blog post is an "External analysis" URI among the related observables.
    for (const related of asArray(get(incident, 'related_observables', 'observables'))) {
      const props = get(related, 'observable', 'object', 'properties');
      const uri = get(props, 'value', 'value');
      if (state.link === undefined && typeof uri === 'string' && /talosintelligence\.com/i.test(uri)) state.link = uri;
    }
  }
  for (const indicator of asArray(pkg.indicators)) {
    if (isRecord(indicator)) readProperties(get(indicator, 'observable', 'object', 'properties'), out);
  }
  for (const related of asArray(get(pkg, 'related_packages', 'related_packages'))) {
    const inner = isRecord(related) ? related.package : undefined;
    if (isRecord(inner)) readPackage(inner, out, state, depth + 1);
  }
}

const OBJECT_KINDS: Record<string, ValueKind> = {
  DomainNameObjectType: 'domain',
  URIObjectType: 'url',
  AddressObjectType: 'ip',
  EmailMessageObjectType: 'email',
};

function readProperties(props: unknown, out: IocCollector): void {
  if (!isRecord(props)) return;
  const objectType = String(props['xsi:type'] ?? '');
  if (Array.isArray(props.hashes)) {
    for (const hash of props.hashes) {
      const algo = String(get(hash, 'type', 'value') ?? '').replace(/-/g, '').toLowerCase();
      const value = get(hash, 'simple_hash_value', 'value');
      if (typeof value !== 'string') continue;
      if (algo === 'sha256' || algo === 'sha1' || algo === 'md5') out.add(value, algo, `${objectType}.hashes`);
      else out.context(value, CONTEXT_REASONS.otherProperty, `${objectType}.hashes`);
    }
  }
  const fileName = get(props, 'file_name', 'value');
  if (typeof fileName === 'string') out.context(fileName, CONTEXT_REASONS.fileName, `${objectType}.file_name`);
  const value = get(props, 'value', 'value') ?? get(props, 'address_value', 'value');
  if (typeof value !== 'string') return;
  const kind = OBJECT_KINDS[objectType];
  // A DomainNameObjectType holding an IPv4 (seen in the Emotet export) is read as the IP it is.
  if (kind === 'domain') out.add(value, 'any', objectType);
  else if (kind) out.add(value, kind, objectType);
  else if (objectType === 'MutexObjectType') out.context(value, CONTEXT_REASONS.mutex, objectType);
  else out.context(value, CONTEXT_REASONS.otherProperty, objectType);
}

function get(value: unknown, ...keys: string[]): unknown {
  let at = value;
  for (const key of keys) at = isRecord(at) ? at[key] : undefined;
  return at;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function isRecord(value: unknown): value is Rec {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
