import { ValidationError } from '../../core/errors.js';
import { CONTEXT_REASONS, IocCollector, type IocFileResult, type ValueKind } from './ioc-collector.js';

/**
 * A MISP event export (one file in 2023): `{"response":[{"Event":{info, date,
 * Attribute:[{type, value}], Object:[{Attribute:[…]}]}}]}`. `info` names the
 * post; a `link` attribute on talosintelligence.com is its blog address.
 * Composite types (`filename|sha256`) give both halves: the hash to
 * investigate, the file name as context.
 */
type Rec = Record<string, unknown>;

const KINDS: Record<string, ValueKind> = {
  md5: 'md5',
  sha1: 'sha1',
  sha256: 'sha256',
  domain: 'domain',
  hostname: 'domain',
  'ip-dst': 'ip',
  'ip-src': 'ip',
  url: 'url',
  uri: 'url',
  'email-src': 'email',
  'email-dst': 'email',
  'email': 'email',
  'email-reply-to': 'email',
};

const CONTEXT: Record<string, string> = {
  filename: CONTEXT_REASONS.fileName,
  mutex: CONTEXT_REASONS.mutex,
  regkey: CONTEXT_REASONS.registry,
  'regkey|value': CONTEXT_REASONS.registry,
  port: CONTEXT_REASONS.port,
};

export function isMispEvent(json: unknown): boolean {
  return events(json).length > 0;
}

export function parseMispEvent(json: unknown, source: string): IocFileResult {
  const list = events(json);
  if (list.length === 0) throw new ValidationError(`${source} is not a MISP event export: it has no "Event" (or "response": [{"Event": …}]).`);
  const out = new IocCollector();
  let title: string | undefined;
  let published: string | undefined;
  let link: string | undefined;
  for (const event of list) {
    if (title === undefined && typeof event.info === 'string') title = event.info.trim();
    if (published === undefined && typeof event.date === 'string') published = event.date;
    const attributes = [...asArray(event.Attribute), ...asArray(event.Object).flatMap((o) => (isRecord(o) ? asArray(o.Attribute) : []))];
    for (const attribute of attributes) {
      if (!isRecord(attribute) || typeof attribute.type !== 'string' || typeof attribute.value !== 'string') continue;
      if (attribute.type === 'link' && /talosintelligence\.com/i.test(attribute.value)) {
        link ??= attribute.value;
        continue;
      }
      readAttribute(attribute.type, attribute.value, out);
    }
  }
  return { format: 'misp-event', title, link, published, observables: out.observables, rejected: out.rejected, tally: out.tally };
}

function readAttribute(type: string, value: string, out: IocCollector): void {
  const field = `Attribute.${type}`;
  const bar = type.indexOf('|');
  if (bar !== -1 && value.includes('|')) {
    // `filename|sha256`, `ip-dst|port`, `domain|ip`: each half on its own.
    const [leftType, rightType] = [type.slice(0, bar), type.slice(bar + 1)];
    const split = value.indexOf('|');
    readAttribute(leftType, value.slice(0, split), out);
    readAttribute(rightType, value.slice(split + 1), out);
    return;
  }
  const kind = KINDS[type];
  if (kind) out.add(value, kind, field);
  else out.context(value, CONTEXT[type] ?? CONTEXT_REASONS.otherProperty, field);
}

function events(json: unknown): Rec[] {
  if (!isRecord(json)) return [];
  if (isRecord(json.Event)) return [json.Event];
  return asArray(json.response).flatMap((r) => (isRecord(r) && isRecord(r.Event) ? [r.Event] : []));
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function isRecord(value: unknown): value is Rec {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
