import { ValidationError } from '../../core/errors.js';
import { CONTEXT_REASONS, IocCollector, type IocFileResult, type ValueKind } from './ioc-collector.js';
import { parsePattern, type Comparison } from './stix-pattern.js';

/**
 * A STIX 2.0 bundle from Cisco-Talos/IOCs: the `report` names the post, the
 * `observed-data` url on talosintelligence.com is its blog address, and every
 * `indicator` pattern is parsed with the grammar in stix-pattern.ts. Each
 * comparison value becomes an observable or a context value with its reason;
 * `*_ref.type` comparisons only say how to read the sibling `*_ref.value`.
 */
interface StixObject {
  type?: unknown;
  [k: string]: unknown;
}

export function isStix2Bundle(json: unknown): boolean {
  return isRecord(json) && json.type === 'bundle' && Array.isArray(json.objects);
}

export function parseStix2Bundle(json: unknown, source: string): IocFileResult {
  if (!isStix2Bundle(json)) throw new ValidationError(`${source} is not a STIX 2 bundle: it has no "type": "bundle" with an "objects" list.`);
  const objects = (json as { objects: unknown[] }).objects.filter(isRecord) as StixObject[];
  const out = new IocCollector();
  let title: string | undefined;
  let published: string | undefined;
  const links: string[] = [];

  for (const object of objects) {
    if (object.type === 'report' && typeof object.name === 'string' && title === undefined) {
      title = object.name.trim();
      if (typeof object.published === 'string') published = object.published;
    } else if (object.type === 'observed-data' && isRecord(object.objects)) {
      for (const inner of Object.values(object.objects)) {
        if (isRecord(inner) && inner.type === 'url' && typeof inner.value === 'string') links.push(inner.value);
      }
    } else if (object.type === 'indicator' && typeof object.pattern === 'string') {
      readPattern(object.pattern, out);
    }
  }
  return { format: 'stix2-bundle', title, link: blogLink(links), published, observables: out.observables, rejected: out.rejected, tally: out.tally };
}

function readPattern(pattern: string, out: IocCollector): void {
  let observations;
  try {
    observations = parsePattern(pattern);
  } catch (err) {
    // One unreadable pattern is reported with the file, not a reason to lose the post.
    out.context(pattern, `unreadable STIX pattern (${(err as Error).message.replace(/^.*cannot be read: /, '').replace(/\.$/, '')})`, 'indicator.pattern');
    return;
  }
  for (const { comparisons } of observations) {
    const refTypes = new Map<string, string>();
    for (const c of comparisons) {
      const ref = /^(.+_ref)\.type$/.exec(c.path);
      if (ref && c.values[0]) refTypes.set(ref[1]!, c.values[0]);
    }
    for (const c of comparisons) {
      if (/_ref\.type$/.test(c.path)) continue;
      readComparison(c, refTypes, out);
    }
  }
}

function readComparison(c: Comparison, refTypes: Map<string, string>, out: IocCollector): void {
  const field = c.path;
  if (c.negated || c.op === '!=' || c.op === '<>') {
    for (const v of c.values) out.context(v, CONTEXT_REASONS.negated, field);
    return;
  }
  const kind = kindOf(c.path, refTypes);
  for (const v of c.values) {
    if (typeof kind === 'string') out.add(v, kind, field);
    else out.context(v, kind.reason, field);
  }
}

const REF_TYPE_KINDS: Record<string, ValueKind> = { 'ipv4-addr': 'ip', 'ipv6-addr': 'ipv6', 'domain-name': 'domain', url: 'url', 'email-addr': 'email' };

/** Which observable a comparison's object path holds, or why it is context. */
export function kindOf(path: string, refTypes: Map<string, string> = new Map()): ValueKind | { reason: string } {
  const [objectType = '', property = ''] = splitPath(path);
  const prop = property.replace(/'/g, '').toLowerCase();
  if (/(^|\.)x_misp_/.test(prop) || objectType.startsWith('x-misp')) return { reason: CONTEXT_REASONS.mispExtension };
  if (prop.startsWith('hashes.')) {
    const algo = prop.slice('hashes.'.length).replace(/-/g, '');
    if (algo === 'sha256' || algo === 'sha1' || algo === 'md5') return algo;
    return { reason: CONTEXT_REASONS.otherProperty };
  }
  switch (`${objectType}:${prop}`) {
    case 'url:value':
      return 'url';
    case 'domain-name:value':
      return 'domain';
    case 'ipv4-addr:value':
      return 'ip';
    case 'ipv6-addr:value':
      return 'ipv6';
    case 'email-addr:value':
      return 'email';
    case 'file:name':
      return { reason: CONTEXT_REASONS.fileName };
    case 'mutex:name':
      return { reason: CONTEXT_REASONS.mutex };
    case 'network-traffic:dst_port':
    case 'network-traffic:src_port':
      return { reason: CONTEXT_REASONS.port };
  }
  if (objectType === 'windows-registry-key') return { reason: CONTEXT_REASONS.registry };
  const ref = /^(.*_ref)\.value$/.exec(prop);
  if (ref) {
    if (objectType === 'email-message') return 'email';
    const declared = refTypes.get(`${objectType}:${ref[1]}`);
    return (declared && REF_TYPE_KINDS[declared]) || 'any';
  }
  return { reason: CONTEXT_REASONS.otherProperty };
}

function splitPath(path: string): [string, string] {
  const colon = path.indexOf(':');
  return colon === -1 ? [path, ''] : [path.slice(0, colon).toLowerCase(), path.slice(colon + 1)];
}

/** The talosintelligence.com address among the observed urls (some bundles also hold VirusTotal links). */
function blogLink(urls: string[]): string | undefined {
  const normal = urls.map((u) => (/^[a-z]+:\/\//i.test(u) ? u : `https://${u}`));
  const talos = normal.find((u) => {
    try {
      return /(^|\.)talosintelligence\.com$/i.test(new URL(u).hostname);
    } catch {
      return false;
    }
  });
  return talos;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
